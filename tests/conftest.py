"""Shared test helpers: the eight real forms and the planted mistakes, as records."""

from __future__ import annotations

import json

import pytest

from scangen.fixtures import FIXTURES, REAL_FORMS, load_fixture
from selfeval.contract import Record

__all__ = ["FIXTURES", "PLANTED", "REAL_FORMS", "load_fixture"]

PLANTED = json.loads((FIXTURES / "planted" / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture
def form_01() -> Record:
    return load_fixture(FIXTURES / "forms" / "form_01.json")
