"""Scan clean-up: coloured ink out, even paper, straight page, and a binary ink map.

The order matters. Red seals (公章) and coloured pen go first by taking the *brightest* channel of
each pixel: red ink is bright in R, paper is bright everywhere, black print is dark everywhere – so
the seal fades to near-paper while black text stamped over stays black. Uneven light goes next by
dividing by a smooth estimate of the paper. Then the page is turned straight, using the long ruling
lines of the form (or, without them, the text rows).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

NOISY = 5.0
"""paper grain (grey levels, after smoothing) above which a page is denoised before it is read"""
BILEVEL_BLUR = 0.6
"""the blur (Gaussian sigma in pixels at 200 dpi) that turns a thresholded black-and-white scan grey"""
DITHERED_BLUR = 1.0
"""… and a dithered one (grey paper and print drawn as dots): a lone dot fades to a sixth of ink, near
paper, while print, solid or a hairline, stays darker than the clean-up's sure-ink level. At 0.6 a
dithered page stays a field of specks; at 1.0 the thin strokes of a thresholded 楷体 page fade."""
FAINT_STROKE_AREA = 7.5
FAINT_STROKE_DEPTH = 70
"""a run of possible ink this large (pixels at 100 dpi: a short stroke) and with a pixel this much
darker than the paper is print, however light: grain blobs are smaller or paler"""
DITHERED_SHARE = 0.1
"""share of a black-and-white page's black pixels standing alone above which it was dithered (a dithered
page has a third or more; a thresholded one only the odd speck)"""
SPECK_AREA = 3
"""a black run this small (pixels at 150 dpi) on a black-and-white page is a speck: a decimal point or a
broken hairline is larger"""
SPECKLE_WINDOW_MM = 4.0
SPECKLE_SHARE = 0.02
"""a part of a thresholded page where specks cover this share of every 4 mm square is a speckle field:
the lid's shadow or grey paper as the threshold left it, dots that clump as they thicken. Print alone
leaves a speck or two per character at most."""
SPECKLE_BLUR = 1.5
"""the blur (sigma at 200 dpi) that turns a speckle field into the even grey it stood for, so that the
paper's level there can be measured and divided out"""
GRAIN_TILE_MM = 4.0
"""the squares in which a speckle field's own grain is measured"""
EDGE_MASS_MM = 2.0
EDGE_MASS_SHARE = 0.5
"""ink covering more than half of every 2 mm square, in one stretch that reaches the image's edge, is
the lid's shadow (or the scanner's edge) where it runs deep and ragged: print is never that dense
over a stretch, and a ruling covers a fifth of such a square at most"""


@dataclass(frozen=True)
class CleanPage:
    grey: np.ndarray
    """cleaned, deskewed grey page (uint8, paper ≈ 255)"""
    ink: np.ndarray
    """binary ink map of `grey` (uint8, ink = 255)"""
    skew_degrees: float
    """how far the scan was turned counter-clockwise (the page was turned back by this much)"""


def drop_colour_ink(bgr: np.ndarray) -> np.ndarray:
    """Grey page in which coloured ink (seals, pen) is faint and black print is untouched."""
    if bgr.ndim == 2:
        return bgr
    brightest = bgr.max(axis=2)
    chroma = brightest - bgr.min(axis=2)
    return cv2.add(brightest, cv2.multiply(chroma, 0.6, dtype=cv2.CV_8U))


def flatten_background(grey: np.ndarray, dpi: int) -> np.ndarray:
    """Divide by the paper's own brightness so shading and yellowed paper become white.

    The paper is estimated on a small copy: a grey closing wider than any stroke removes the ink.
    """
    scale = 8
    small = cv2.resize(grey, (max(1, grey.shape[1] // scale), max(1, grey.shape[0] // scale)), cv2.INTER_AREA)
    size = max(3, (dpi // 25) | 1)  # ~1 mm on the small copy ≈ 8 mm on the page: wider than strokes
    paper = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (size, size)))
    paper = cv2.GaussianBlur(paper, (0, 0), size / 2)
    paper = cv2.resize(paper, (grey.shape[1], grey.shape[0]), interpolation=cv2.INTER_LINEAR)
    flat = grey.astype(np.float32) * (255.0 / np.maximum(paper.astype(np.float32), 32.0))
    return flat.clip(0, 255).astype(np.uint8)


@dataclass(frozen=True)
class InkLevels:
    """A page's paper, the grain of its paper and its darkest print, in grey levels."""

    paper: float
    noise: float
    """the paper's grain (robust standard deviation) on the smoothed page"""
    ink: float
    grain: np.ndarray | None = None
    """the grain pixel by pixel where it differs from place to place (a speckle field's is far coarser
    than the clean paper around it); None where `noise` holds for the whole page"""

    @property
    def _grain(self) -> float | np.ndarray:
        return self.noise if self.grain is None else self.grain

    @property
    def weak(self) -> float | np.ndarray:
        """Smoothed pixels darker than this may be ink: grain almost never reaches so far."""
        return self.paper - np.maximum(5 * self._grain, 18.0)

    @property
    def strong(self) -> float | np.ndarray:
        """A stroke holds at least one pixel darker than this as scanned (a hairline of 宋体 print
        included); stray grain and the halo of a seal rarely do. On a grainy page, half way from the
        paper to the page's own ink is dark enough: grain that deep is rare, and print is darker."""
        return np.maximum(self.paper - np.maximum(16 * self._grain, 40.0), (self.paper + self.ink) / 2)

    @property
    def deep(self) -> float | np.ndarray:
        """A run of possible ink with a smoothed pixel this dark is print if it is as large as a
        stroke: grain blobs are smaller, or (where the grain is coarse) paler."""
        return self.paper - np.maximum(FAINT_STROKE_DEPTH, 5 * self._grain)


def smoothed(grey: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(grey, (3, 3), 0.7)


def ink_levels(grey: np.ndarray) -> InkLevels:
    """Paper, grain and ink of a page, measured on its smoothed pixels (as the ink map sees them)."""
    sample = smoothed(grey)[::3, ::3]
    paper = float(np.median(sample))
    bright = sample[sample >= paper - 40].astype(np.float32)
    noise = max(1.0, 1.4826 * float(np.median(np.abs(bright - paper))))
    dark = sample[sample < paper - 6 * noise - 10]
    ink = float(np.percentile(dark, 5)) if dark.size > 100 else 0.0
    return InkLevels(paper, noise, ink)


def hysteresis_ink(grey: np.ndarray, levels: InkLevels, dpi: int) -> np.ndarray:
    """The page's ink: connected runs of possible ink that hold a sure dark pixel, or are as large as
    a stroke and clearly darker than the paper (light print on a grainy page, whose half-way level
    its thin strokes never reach), each at its true width (half way between the paper and the darkest
    ink nearby, so a stroke is as wide whether bold and black or thin and faint, and the blur halo
    around bold print is not ink)."""
    smooth = smoothed(grey)
    weak = (smooth < levels.weak).astype(np.uint8)
    strong = grey < levels.strong
    count, labels, stats, _ = cv2.connectedComponentsWithStats(weak, connectivity=8)
    keep = np.zeros(count, dtype=bool)
    keep[np.unique(labels[strong])] = True
    deep = np.unique(labels[smooth <= levels.deep])
    keep[deep] |= stats[deep, cv2.CC_STAT_AREA] >= (dpi / 100) ** 2 * FAINT_STROKE_AREA
    keep[0] = False
    nearby = cv2.erode(smooth, cv2.getStructuringElement(cv2.MORPH_RECT, (7, 7)))
    core = smooth.astype(np.int16) * 2 < nearby.astype(np.int16) + int(levels.paper)
    return np.where(keep[labels] & core, np.uint8(255), np.uint8(0))


def normalise_levels(grey: np.ndarray, levels: InkLevels) -> np.ndarray:
    black, white = levels.ink, levels.paper - 2 * levels.noise
    scale = 255.0 / max(white - black, 1.0)
    lut = np.clip((np.arange(256, dtype=np.float32) - black) * scale, 0, 255).astype(np.uint8)
    return cv2.LUT(grey, lut)


def estimate_skew(ink: np.ndarray, dpi: int) -> float:
    """Counter-clockwise turn of the page in degrees, from its long horizontal rulings (0 if none)."""
    angles, weights = _ruling_angles(ink, dpi)
    if not angles:
        angles, weights = _text_row_angles(ink, dpi)
    if not angles:
        return 0.0
    return -_weighted_median(np.array(angles), np.array(weights))


def _ruling_angles(ink: np.ndarray, dpi: int) -> tuple[list[float], list[float]]:
    """Angle of each long, thin, nearly horizontal stroke, fitted through all its pixels."""
    run = max(20, dpi // 5)  # a ruling turned 3° still has horizontal runs longer than this
    lines = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (run, 1)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(lines, connectivity=8)
    min_length = ink.shape[1] // 5
    angles: list[float] = []
    weights: list[float] = []
    for label in range(1, count):
        x, y, w, h, _ = stats[label]
        if w < min_length or h > w * 0.08 + 12:
            continue
        ys, xs = np.nonzero(labels[y : y + h, x : x + w] == label)
        slope = np.polyfit(xs.astype(np.float64), ys.astype(np.float64), 1)[0]
        angles.append(math.degrees(math.atan(slope)))
        weights.append(float(w))
    return angles, weights


def _text_row_angles(ink: np.ndarray, dpi: int) -> tuple[list[float], list[float]]:
    """Fallback for pages without rulings: the angle whose row profile is sharpest."""
    small = cv2.resize(ink, (ink.shape[1] // 4, ink.shape[0] // 4), interpolation=cv2.INTER_AREA)
    centre = (small.shape[1] / 2, small.shape[0] / 2)
    best, best_score = 0.0, -1.0
    for angle in np.arange(-3.0, 3.01, 0.1):
        turned = cv2.warpAffine(small, cv2.getRotationMatrix2D(centre, float(angle), 1.0), small.shape[::-1])
        profile = turned.sum(axis=1, dtype=np.float64)
        score = float(np.square(np.diff(profile)).sum())
        if score > best_score:
            best, best_score = float(angle), score
    # Turning by `best` (counter-clockwise) straightens the rows, so the rows sloped by +best.
    return ([best], [1.0]) if best_score > 0 else ([], [])


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def rotate(image: np.ndarray, degrees: float, fill: float = 255) -> np.ndarray:
    """Turn counter-clockwise by `degrees` about the centre, keeping the size, filling with `fill`
    (paper for a page)."""
    centre = (image.shape[1] / 2, image.shape[0] / 2)
    matrix = cv2.getRotationMatrix2D(centre, degrees, 1.0)
    return cv2.warpAffine(
        image, matrix, (image.shape[1], image.shape[0]), flags=cv2.INTER_LINEAR, borderValue=fill
    )


@dataclass(frozen=True)
class Softened:
    grey: np.ndarray
    speckle: np.ndarray | None
    """how surely each pixel lies in a speckle field (0 to 1); None on a page without one"""


def softened_if_bilevel(grey: np.ndarray, dpi: int) -> Softened:
    """A black-and-white scan (every pixel black or white) made grey again by a blur of about its
    dot size: dithered ink (a seal, a photo-mode page) turns into the grey it stood for, print keeps
    dark cores, and the recogniser meets the soft edges it was trained on. A thresholded page's
    speckle fields are blurred further, into the grey they stood for."""
    sample = grey[::4, ::4]
    between = np.count_nonzero((sample > 20) & (sample < 235))
    if between > 0.002 * sample.size:
        return Softened(grey, None)
    if is_dithered(grey):
        return Softened(cv2.GaussianBlur(grey, (0, 0), DITHERED_BLUR * dpi / 200), None)
    soft = cv2.GaussianBlur(grey, (0, 0), BILEVEL_BLUR * dpi / 200)
    speckle = speckle_fields(grey, dpi)
    if not speckle.any():
        return Softened(soft, None)
    blurred = cv2.GaussianBlur(grey, (0, 0), SPECKLE_BLUR * dpi / 200)
    mixed = soft * (1 - speckle) + blurred * speckle
    return Softened(mixed.round().astype(np.uint8), speckle)


def speckle_fields(bilevel: np.ndarray, dpi: int) -> np.ndarray:
    """How surely each pixel of a thresholded page lies in a speckle field: 0 up to half
    `SPECKLE_SHARE` of specks around it (the odd speck of print), rising to 1 at that share."""
    black = (bilevel < 128).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(black, connectivity=8)
    speck = stats[:, cv2.CC_STAT_AREA] <= SPECK_AREA * (dpi / 150) ** 2
    speck[0] = False
    window = int(dpi / 25.4 * SPECKLE_WINDOW_MM) | 1
    share = cv2.boxFilter(speck[labels].astype(np.float32), -1, (window, window))
    return np.clip(2 * share / SPECKLE_SHARE - 1, 0, 1)


def is_dithered(bilevel: np.ndarray) -> bool:
    """Whether a black-and-white page draws grey as dots: many of its black pixels have no black
    neighbour."""
    black = (bilevel < 128).astype(np.uint8)
    total = int(np.count_nonzero(black))
    if total == 0:
        return False
    neighbours = cv2.boxFilter(black, cv2.CV_16U, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT)
    alone = int(np.count_nonzero(black & (neighbours == 1)))
    return alone > DITHERED_SHARE * total


def with_local_grain(levels: InkLevels, flat: np.ndarray, speckle: np.ndarray, dpi: int) -> InkLevels:
    """The page's levels with the grain measured square by square inside its speckle fields (the
    page's own grain elsewhere): a field's specks then fall below the sure-ink level while the print
    in it, solid and darker, does not."""
    tile = max(8, round(dpi / 25.4 * GRAIN_TILE_MM))
    h, w = flat.shape
    rows, cols = -(-h // tile), -(-w // tile)
    padded = np.full((rows * tile, cols * tile), levels.paper, np.float32)
    padded[:h, :w] = smoothed(flat)
    squares = padded.reshape(rows, tile, cols, tile).transpose(0, 2, 1, 3).reshape(rows, cols, tile * tile)
    bright = squares >= levels.paper - 40  # as `ink_levels` measures the grain: print left out
    deviation = np.where(bright, np.abs(squares - levels.paper), 0).sum(axis=2)
    counted = bright.sum(axis=2)
    # The mean deviation of a normal grain is 0.8 of its standard deviation; a square of print alone
    # has no paper to measure and takes the page's grain.
    grain = np.where(counted > 0, 1.2533 * deviation / np.maximum(counted, 1), levels.noise)
    grain = np.maximum(grain, levels.noise).astype(np.float32)
    # A square crowded with print has few paper pixels to measure; its neighbours' grain holds for it.
    grain = cv2.dilate(grain, np.ones((3, 3), np.uint8))
    grain = cv2.resize(grain, (w, h), interpolation=cv2.INTER_LINEAR)
    local = levels.noise + (grain - levels.noise) * speckle
    return InkLevels(levels.paper, levels.noise, levels.ink, grain=local)


def clean_page(bgr: np.ndarray, dpi: int, min_skew: float = 0.05) -> CleanPage:
    """The whole clean-up: colour ink out, background flat, levels stretched, page straightened."""
    softened = softened_if_bilevel(drop_colour_ink(bgr), dpi)
    flat = flatten_background(softened.grey, dpi)
    levels = ink_levels(flat)
    if levels.noise > NOISY:
        # Grain, specks and dither dots are single pixels or pairs; strokes are wider. A median of
        # each pixel's neighbours takes the first away and keeps the second.
        flat = cv2.medianBlur(flat, 3)
        levels = ink_levels(flat)
    speckle = softened.speckle
    local = levels if speckle is None else with_local_grain(levels, flat, speckle, dpi)
    skew = estimate_skew(hysteresis_ink(flat, local, dpi), dpi)
    if abs(skew) >= min_skew:
        flat = rotate(flat, -skew)
        if speckle is not None:
            local = with_local_grain(levels, flat, rotate(speckle, -skew, fill=0), dpi)
    else:
        skew = 0.0
    grey = normalise_levels(flat, levels)
    ink = without_edge_masses(without_border_bands(hysteresis_ink(flat, local, dpi)), dpi)
    return CleanPage(grey=grey, ink=ink, skew_degrees=round(skew, 3))


def without_border_bands(
    ink: np.ndarray, min_share: float = 0.2, reach: float = 0.03, max_depth: float = 0.1
) -> np.ndarray:
    """A band of ink along an edge of the image (reaching within 3 % of it: turning the page straight
    moves it in a little), a fifth of the edge long or more and shallow, is the scanner's edge or the
    shadow of the lid, never print. A table that comes near an edge is deep: it stays."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    h, w = ink.shape
    x, y, bw, bh = (stats[:, i] for i in range(4))
    near_x, near_y = reach * w, reach * h
    along_x = (bw >= min_share * w) & (bh <= max_depth * h) & ((y <= near_y) | (y + bh >= h - near_y))
    along_y = (bh >= min_share * h) & (bw <= max_depth * w) & ((x <= near_x) | (x + bw >= w - near_x))
    band = along_x | along_y
    band[0] = False
    if not band.any():
        return ink
    return np.where(band[labels], np.uint8(0), ink)


def without_edge_masses(ink: np.ndarray, dpi: int) -> np.ndarray:
    """The ink map without the dense masses that reach the image's edge (and the ink within a square
    of them): a deep shadow along the edge, whose ragged side joins the table's border and so is no
    band `without_border_bands` can lift out. Left in, every row and column of it is a ruling."""
    window = int(dpi / 25.4 * EDGE_MASS_MM) | 1
    density = cv2.boxFilter((ink > 0).astype(np.float32), -1, (window, window))
    count, labels = cv2.connectedComponents((density > EDGE_MASS_SHARE).astype(np.uint8), connectivity=8)
    at_edge = np.zeros(count, dtype=bool)
    for side in (labels[0, :], labels[-1, :], labels[:, 0], labels[:, -1]):
        at_edge[np.unique(side)] = True
    at_edge[0] = False
    if not at_edge.any():
        return ink
    mass = cv2.dilate(at_edge[labels].astype(np.uint8), np.ones((window, window), np.uint8)) > 0
    return np.where(mass, np.uint8(0), ink)
