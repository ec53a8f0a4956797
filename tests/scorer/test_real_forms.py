"""The eight real forms verify; each planted mistake is caught by its rule and by no other."""

from pathlib import Path

import pytest

from selfeval.contract import CheckStatus, Record, Severity, Status
from services.scorer import score_record
from tests.conftest import FIXTURES, PLANTED, REAL_FORMS, load_fixture

pytestmark = pytest.mark.unit


def failed_errors(path: Path) -> set[str]:
    return set(score_record(load_fixture(path)).failed_rules())


def test_there_are_eight_real_forms() -> None:
    assert len(REAL_FORMS) == 8


@pytest.mark.parametrize("path", REAL_FORMS, ids=lambda p: p.stem)
def test_real_form_verifies(path: Path) -> None:
    scored = score_record(load_fixture(path))
    assert scored.status is Status.verified, scored.reason
    assert not [c for c in scored.checks if c.status is CheckStatus.skipped]


@pytest.mark.parametrize("name", sorted(PLANTED), ids=str)
def test_planted_mistake_caught_by_its_rule_only(name: str) -> None:
    path = FIXTURES / "planted" / f"{name}.json"
    assert failed_errors(path) == {PLANTED[name]["rule"]}
    assert score_record(load_fixture(path)).status is Status.needs_review


def test_missing_input_means_needs_review_never_verified(form_01: Record) -> None:
    form_01.form.indicators[4].score = None
    scored = score_record(form_01)
    assert scored.status is Status.needs_review
    assert "could not check" in (scored.reason or "")


def test_scoring_is_idempotent(form_01: Record) -> None:
    once = score_record(form_01)
    assert score_record(once) == once


def test_record_id_is_stable_per_submission_and_form(form_01: Record) -> None:
    form_01.submission.sha256 = "ab" * 32
    form_01.submission.pages = [3, 4]
    first, again = score_record(form_01), score_record(form_01.model_copy(deep=True))
    assert first.record_id == again.record_id
    form_01.submission.pages = [5, 6]
    assert score_record(form_01).record_id != first.record_id


def test_upstream_checks_are_kept(form_01: Record) -> None:
    from selfeval.contract import Check

    low = Check(
        rule="field_confidence",
        severity=Severity.error,
        status=CheckStatus.failed,
        message="form.total_score read with confidence 0.41",
        fields=["form.total_score"],
    )
    form_01.checks = [low]
    scored = score_record(form_01)
    assert scored.checks[0] == low and scored.status is Status.needs_review
