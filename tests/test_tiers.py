"""The tier check of tests/conftest.py, run on a throwaway test tree with the same conftest."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.unit

CONFTEST = (Path(__file__).parent / "conftest.py").read_text(encoding="utf-8")
MARKERS = "[pytest]\naddopts = --strict-markers\nmarkers =\n    unit\n    integration\n    system\n"


@pytest.fixture
def tree(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makeini(MARKERS)
    return pytester


def test_a_test_without_a_tier_errs_in_every_tier_run(tree: pytest.Pytester) -> None:
    tree.makepyfile(test_some="def test_untiered():\n    pass\n")
    for tier in ("unit", "integration", "system"):
        result = tree.runpytest("-m", tier)
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(["*test_untiered: no tier (mark it unit, integration or system)*"])


def test_a_fixture_that_starts_something_gives_its_tier(tree: pytest.Pytester) -> None:
    tree.makepyfile(
        test_some="""
import pytest

@pytest.fixture
def nats_server():
    return None  # the name is what counts

def test_uses_a_server(nats_server):
    pass

@pytest.mark.unit
def test_pure():
    pass
"""
    )
    tree.runpytest("-m", "integration").assert_outcomes(passed=1)
    tree.runpytest("-m", "unit").assert_outcomes(passed=1)


def test_a_test_marked_below_what_its_fixtures_start_errs(tree: pytest.Pytester) -> None:
    tree.makepyfile(
        test_some="""
import pytest

pytestmark = pytest.mark.unit

@pytest.fixture
def system():
    raise AssertionError("never started: the test fails before its fixtures")

def test_claims_unit(system):
    pass
"""
    )
    result = tree.runpytest("-m", "unit")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*test_claims_unit: marked unit but uses system (system)*"])
    result.stdout.no_fnmatch_line("*never started*")
