"""Page orientation: a form scanned sideways (90°/270°) or upside down (180°) is turned upright.

Two cheap signals, so an upright page pays almost nothing:

- sideways: printed lines run along the page. Smearing the text ink (rulings removed) along each
  axis by less than a line gap joins the characters of a line into long thin bars along the text
  direction only, because characters sit closer together than lines do. On these forms the right
  axis wins by more than ten to one.
- upside down: a line read upside down is gibberish to the recogniser. A few of the page's line
  crops are read upright and turned 180°; a page whose turned crops read far surer is upside down.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from services.ocr.cleanup import CleanPage
from services.ocr.recognise import Reading, Recogniser

SIDEWAYS_RATIO = 2.0
"""the across-axis bars must outweigh the along-axis ones this many times to turn the page"""
MIN_BAR_PIXELS = 200
"""below this much bar length (on the half-size page) there is too little text to judge"""
SAMPLE_LINES = 8
"""line crops read upright and turned, to tell upright from upside down"""
MAX_SAMPLE_CHARACTERS = 10
"""a sampled crop is cut to this many line heights of width"""
UPSIDE_DOWN_MARGIN = 0.15
"""turned crops must read this much surer on average before the page counts as upside down"""


def bar_lengths(text_ink: np.ndarray, dpi: int) -> tuple[int, int]:
    """Total length of the long thin bars left by smearing text ink along x and along y (half size)."""
    small = cv2.resize(
        text_ink,
        (max(1, text_ink.shape[1] // 2), max(1, text_ink.shape[0] // 2)),
        interpolation=cv2.INTER_AREA,
    )
    small = np.where(small > 64, np.uint8(255), np.uint8(0))
    gap = max(3, round(dpi / 2 * 0.04))  # ~1 mm: wider than a gap between characters, not between lines
    lengths = []
    for kernel, along_x in (((gap, 1), True), ((1, gap), False)):
        smeared = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_RECT, kernel))
        _, _, stats, _ = cv2.connectedComponentsWithStats(smeared, connectivity=8)
        widths, heights = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]
        along, across = (widths, heights) if along_x else (heights, widths)
        bars = (along >= 4 * across) & (across >= 4)
        lengths.append(int(along[bars].sum()))
    return lengths[0], lengths[1]


def is_sideways(ink: np.ndarray, rulings: np.ndarray, dpi: int) -> bool:
    """True when the page's text runs top to bottom, i.e. the scan is turned by 90° or 270°."""
    text_ink = cv2.bitwise_and(ink, cv2.bitwise_not(rulings))
    along_x, along_y = bar_lengths(text_ink, dpi)
    return along_y >= MIN_BAR_PIXELS and along_y > SIDEWAYS_RATIO * along_x


def turn(clean: CleanPage, quarter_turns: int) -> CleanPage:
    """The cleaned page turned counter-clockwise by `quarter_turns` × 90°."""
    return CleanPage(
        grey=np.ascontiguousarray(np.rot90(clean.grey, quarter_turns)),
        ink=np.ascontiguousarray(np.rot90(clean.ink, quarter_turns)),
        skew_degrees=clean.skew_degrees,
    )


def widest(crops: Sequence[np.ndarray], count: int = SAMPLE_LINES) -> list[int]:
    """Indices of the widest crops (most characters: the clearest verdict), widest first."""
    return sorted(range(len(crops)), key=lambda index: crops[index].shape[1], reverse=True)[:count]


def sample_crops(crops: Sequence[np.ndarray], count: int = SAMPLE_LINES) -> list[np.ndarray]:
    """The widest crops, cut to ~10 characters so the check stays cheap whatever the page holds."""
    return [crops[i][:, : max(1, crops[i].shape[0] * MAX_SAMPLE_CHARACTERS)] for i in widest(crops, count)]


def is_upside_down(recogniser: Recogniser, crops: Sequence[np.ndarray], readings: Sequence[Reading]) -> bool:
    """Read a sample of crops upright and turned 180°; True when turned they read clearly surer.

    `readings` are the crops' readings as they lie: when the widest read as surely as no turned crop
    could beat by the margin, the page is upright and nothing more is read (most pages: the check
    would otherwise cost a sixth of a page's time).
    """
    sure = [readings[index].confidence for index in widest(crops)]
    if sure and float(np.mean(sure)) >= 1 - UPSIDE_DOWN_MARGIN:
        return False
    sample = sample_crops(crops)
    if not sample:
        return False
    turned = [np.ascontiguousarray(crop[::-1, ::-1]) for crop in sample]
    readings = recogniser.read(sample + turned)
    upright = float(np.mean([reading.confidence for reading in readings[: len(sample)]]))
    flipped = float(np.mean([reading.confidence for reading in readings[len(sample) :]]))
    return flipped > upright + UPSIDE_DOWN_MARGIN
