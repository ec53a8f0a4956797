"""Shared test helpers: the eight real forms and the planted mistakes, as records; a real nats-server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from selfeval.contract import Record
from selfeval.embedded import EmbeddedNats

FIXTURES = Path(__file__).parent / "fixtures"
REAL_FORMS = sorted((FIXTURES / "forms").glob("form_*.json"))
PLANTED = json.loads((FIXTURES / "planted" / "expected.json").read_text(encoding="utf-8"))


def load_fixture(path: Path) -> Record:
    return Record.model_validate(json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal))


@pytest.fixture
def form_01() -> Record:
    return load_fixture(FIXTURES / "forms" / "form_01.json")


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A real nats-server with JetStream per test, on a free loopback port, in the test's tmp dir."""
    with EmbeddedNats(tmp_path / "nats") as server:
        yield server
