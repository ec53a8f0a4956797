"""The upright page a reviewer is shown: the grey page the OCR read, scaled down to a bounded size."""

from __future__ import annotations

import cv2
import numpy as np

PAGE_IMAGE_DPI = 150
"""kept pages are at most this sharp: enough to read a figure beside its box"""
MAX_PAGE_IMAGE_SIDE = 2600
"""and at most this many pixels along either side (an A3 page at 150 dpi), whatever the scan claims"""


def page_png(grey: np.ndarray, dpi: int) -> bytes:
    """The page as a grey PNG of at most PAGE_IMAGE_DPI and MAX_PAGE_IMAGE_SIDE, never scaled up."""
    height, width = grey.shape[:2]
    scale = min(1.0, PAGE_IMAGE_DPI / max(dpi, 1), MAX_PAGE_IMAGE_SIDE / max(height, width))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".png", grey, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:  # OpenCV reports failure instead of raising; a uint8 grey page always encodes
        raise ValueError("the page image could not be encoded as PNG")
    return encoded.tobytes()
