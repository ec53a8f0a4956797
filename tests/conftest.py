"""Shared test helpers: the eight real forms and the planted mistakes, as records; a real nats-server;
the one OCR engine of the session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from scangen.fixtures import FIXTURES, REAL_FORMS, load_fixture
from selfeval.contract import Record
from selfeval.embedded import EmbeddedNats
from services.ocr import OcrEngine, OcrSettings

__all__ = ["FIXTURES", "PLANTED", "REAL_FORMS", "load_fixture"]

PLANTED = json.loads((FIXTURES / "planted" / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture
def form_01() -> Record:
    return load_fixture(FIXTURES / "forms" / "form_01.json")


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A real nats-server with JetStream per test, on a free loopback port, in the test's tmp dir."""
    with EmbeddedNats(tmp_path / "nats") as server:
        yield server


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def engine(model_cache: Path) -> OcrEngine:
    """The one OCR engine of the session, with the default limits: loading the models costs seconds,
    reading is fast, and an engine must outlive every bad input anyway."""
    return OcrEngine(OcrSettings(model_dir=model_cache, threads=2))
