"""A figure read with doubt, read again two other ways: two readings that agree outvote the first.

On a blurred or faded scan the line reader swaps digits of like shape (777.32 read 77.32, 3900.00 read
3000.00, 5.00 read 3.00, 99.48 read 90.48), surely enough to pass as read, though less surely than it
reads clear print. Such a line is read again by the same model from a sharpened crop (contrast
stretched, unsharp-masked) and by a second model (PP-OCRv4) from the crop as it is. When those two
agree on a figure printed as the forms print figures (two decimals), theirs is the reading; else the
first stands. Nothing is guessed: the reading taken is one two readers gave, at the lower of their
confidences, and the scorer still checks every figure.

On office scans the reader reads figures surely and no line is asked; on poor scans the votes mended
about ten figures in a draw of 24 forms and took two others the wrong way (a 5 both read 3).
"""

from __future__ import annotations

import re

import cv2
import numpy as np

from selfeval.contract.figures import WHOLE_NUMBER

VOTE_BELOW = 0.98
"""a figure-like reading less sure than this is put to the vote (office print reads surer)"""
FIGURE_LIKE = re.compile(r"[\d.,:;'·\-]*\d[\d.,:;'·\-A-Za-z]*")
"""a reading that may be a figure misread: digits, separators, a letter or two for a blurred digit"""
MAX_FIGURE_LENGTH = 12
TWO_DECIMAL_FIGURE = re.compile(rf"{WHOLE_NUMBER}\.\d{{2}}")
PAPER_SPAN = 30
"""grey levels between the crop's print and paper below which the crop is left unstretched (blank)"""


def wants_vote(text: str, confidence: float) -> bool:
    """Whether a reading looks like a figure and was read with doubt."""
    return confidence < VOTE_BELOW and len(text) <= MAX_FIGURE_LENGTH and bool(FIGURE_LIKE.fullmatch(text))


def sharpened(crop: np.ndarray) -> np.ndarray:
    """The crop with its darkest print stretched to black and its edges unsharp-masked."""
    darkest = float(np.percentile(crop, 2))
    if 255 - darkest >= PAPER_SPAN:
        crop = np.clip((crop.astype(np.float32) - darkest) * 255.0 / (255 - darkest), 0, 255)
    blurred = cv2.GaussianBlur(crop.astype(np.float32), (0, 0), 1.5)
    return np.clip(np.rint(crop.astype(np.float32) * 1.8 - blurred * 0.8), 0, 255).astype(np.uint8)


def outvoting(first: str, again: str, second: str) -> bool:
    """Whether two further readings agree on a two-decimal figure other than the first reading."""
    plain = again.replace(",", "")
    return (
        plain == second.replace(",", "")
        and bool(TWO_DECIMAL_FIGURE.fullmatch(plain))
        and plain != first.replace(",", "")
    )
