"""How the OCR's share of the cores is worked out from the settings."""

from __future__ import annotations

import pytest

from selfeval.settings import Settings, cpu_count


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
