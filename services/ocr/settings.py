"""The OCR service's knobs, with defaults that suit 200 dpi scans on a small CPU box."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selfeval.contract import defaults
from services.ocr.models import default_cache_dir


@dataclass(frozen=True)
class OcrSettings:
    dpi: int = defaults.DPI
    """resolution PDFs are rasterised at (and assumed for images that do not say)"""
    max_pages: int = defaults.MAX_PAGES
    """a submission with more pages is rejected"""
    max_pixels: int = defaults.MAX_PIXELS
    """a page image with more pixels is rejected before it is decoded"""
    threads: int = 2
    """CPU threads for inference"""
    line_reader: str = "small"
    """PP-OCRv6 line reader: "small" (most exact) or "tiny" (about 3× faster); see LINE_READERS"""
    model_dir: Path | None = None
    """where prepared models are kept; default $SELFEVAL_HOME/models or ~/.cache/selfeval/models"""
    rec_batch_pixels: int = 2560
    """recognition batches hold about this many pixels of width at height 48 (keeps oneDNN fast)"""
    use_slanet: bool = True
    """fall back to SLANet_plus for a text block without ruling lines"""

    @property
    def cache_dir(self) -> Path:
        return self.model_dir or default_cache_dir()

    @classmethod
    def from_app_settings(cls, settings: Any) -> OcrSettings:
        """From `selfeval.settings.Settings` (duck-typed so this module does not import the app)."""
        return cls(
            dpi=settings.dpi,
            max_pages=settings.max_pages,
            max_pixels=settings.max_pixels,
            threads=settings.ocr_threads_per_process(),
            line_reader=settings.ocr_reader,
            model_dir=settings.models_path,
        )
