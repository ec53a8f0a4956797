"""How the OCR's share of the cores is worked out from the settings."""

from __future__ import annotations

import pytest

from selfeval.settings import Settings, cpu_count

pytestmark = pytest.mark.unit


def test_ocr_processes_share_the_cores_unless_threads_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SELFEVAL_OCR_THREADS", raising=False)
    monkeypatch.delenv("SELFEVAL_OCR_PROCESSES", raising=False)
    cores = cpu_count()
    settings = Settings()
    assert settings.ocr_processes == min(2, cores)
    assert settings.ocr_threads_per_process() == cores  # `selfeval process`: one process, every core
    assert settings.ocr_threads_per_process(2) == max(1, cores // 2)
    assert Settings(ocr_threads=3).ocr_threads_per_process(2) == 3  # explicit wins


def test_thread_share_never_drops_below_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SELFEVAL_OCR_THREADS", raising=False)
    assert Settings().ocr_threads_per_process(cpu_count() * 4) == 1


def test_line_reader_reaches_the_ocr_engine_and_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from services.ocr import OcrSettings

    monkeypatch.setenv("SELFEVAL_OCR_READER", "tiny")
    assert OcrSettings.from_app_settings(Settings()).line_reader == "tiny"
    monkeypatch.delenv("SELFEVAL_OCR_READER")
    assert OcrSettings.from_app_settings(Settings()).line_reader == "small"
    with pytest.raises(ValidationError, match="ocr_reader"):
        Settings(ocr_reader="medium")
