"""One OCR engine for the whole OCR test run: loading the models costs seconds, reading is fast."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.ocr import OcrEngine, OcrSettings


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def engine(model_cache: Path) -> OcrEngine:
    return OcrEngine(OcrSettings(model_dir=model_cache, threads=2, max_pages=5))
