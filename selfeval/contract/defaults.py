"""Defaults every reader of a scan shares: the settings (`selfeval.settings`) take them as their
defaults and the services as the defaults of their own parameters, so they are written once."""

from __future__ import annotations

DPI = 200
"""Resolution PDFs are rasterised at (and assumed for images that do not say)."""
MAX_PAGES = 50
"""A submission with more pages is rejected."""
MAX_PIXELS = 60_000_000
"""A page image with more pixels is rejected before it is decoded (decompression bombs)."""
MIN_CONFIDENCE = 0.80
"""A figure, the grade or a header field read with less OCR confidence needs review."""
