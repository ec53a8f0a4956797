"""Shared test helpers: the eight real forms and the planted mistakes, as records; a real nats-server;
the one OCR engine of the session; and the test tiers.

Every test belongs to exactly one tier, by what it starts:

- ``unit``: pure code, no server and no OCR model (``make test-fast`` runs these);
- ``integration``: real outside parts, not the whole system: a nats-server, a Prefect server (the
  ``prefect_server`` fixture of tests/flows), SeaweedFS, a part's process, or the OCR engine on a page;
- ``system``: the whole system (``selfeval up``) or the whole chain with real OCR over whole forms.

A test using one of the fixtures in ``FIXTURE_TIERS`` gets that fixture's tier by itself; any other
test is marked in its module (``pytestmark``) or on its function. A test with no tier, with two, or
marked lower than a fixture it uses fails, whichever tier is run.
"""

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

TIERS = ("unit", "integration", "system")
"""From the least to the most a test starts."""

FIXTURE_TIERS = {
    "nats_server": "integration",
    "model_cache": "integration",
    "engine": "integration",
    "seaweedfs": "integration",
    "prefect_server": "integration",
    "system": "system",
}
"""Fixtures that start something, by name (a module may define its own `nats_server` or `system`)."""


UNSETTLED_TIER = pytest.StashKey[str]()


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by the markers this adds
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if problem := settle_tier(item):
            # Failing at set-up rather than stopping collection: under pytest-xdist a collection error
            # in a worker hides its message. Every tier's marker makes any `-m` tier run pick it up.
            item.stash[UNSETTLED_TIER] = problem
            for tier in TIERS:
                item.add_marker(tier)


@pytest.hookimpl(tryfirst=True)  # before the fixtures start anything
def pytest_runtest_setup(item: pytest.Item) -> None:
    if problem := item.stash.get(UNSETTLED_TIER, None):
        pytest.fail(f"{problem}; tests/conftest.py says what each tier starts", pytrace=False)


def settle_tier(item: pytest.Item) -> str | None:
    """Mark `item` with the tier its fixtures imply unless it is marked; say what is wrong, if anything."""
    marked = {marker.name for marker in item.iter_markers() if marker.name in TIERS}
    fixtures = [name for name in getattr(item, "fixturenames", ()) if name in FIXTURE_TIERS]
    implied = max((FIXTURE_TIERS[name] for name in fixtures), key=TIERS.index, default=None)
    if not marked:
        if implied is None:
            return f"{item.nodeid}: no tier (mark it unit, integration or system)"
        item.add_marker(implied)
        return None
    if len(marked) > 1:
        return f"{item.nodeid}: several tiers {sorted(marked, key=TIERS.index)}"
    (tier,) = marked
    if implied is not None and TIERS.index(tier) < TIERS.index(implied):
        return f"{item.nodeid}: marked {tier} but uses {', '.join(fixtures)} ({implied})"
    return None


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
