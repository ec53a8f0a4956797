"""One `selfeval up` shared by the fault tests of a module: starting one takes 15–25 s on two cores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.support import FAST_ENV, POISON_ENV, POISON_HOOK, scan_bytes, sha256
from tests.pipeline.system import RunningSystem, start_system

POISON_SEED = 999_001


@pytest.fixture(scope="session")
def scans_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scans")


@pytest.fixture(scope="session")
def poison(scans_dir: Path) -> bytes:
    """A good scan whose id the OCR worker is told to die on (SELFEVAL_TEST_POISON_SHA256)."""
    return scan_bytes(POISON_SEED, scans_dir)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, poison: bytes) -> Iterator[RunningSystem]:
    poisoned = {POISON_ENV: sha256(poison), "PYTHONPATH": str(POISON_HOOK)}
    running = start_system(tmp_path_factory.mktemp("home"), {**FAST_ENV, **poisoned})
    yield running
    assert running.stop() == 0, running.logs()
