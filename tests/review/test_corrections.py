"""A reviewer's decision, as pure functions: corrections re-score, confirmations keep the failing checks,
and a refused decision leaves the record as it was."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from selfeval.contract import Check, CheckStatus, Record, Severity, Status
from selfeval.review.corrections import Refusal, ReviewRefusedError, confirmed, corrected
from services.scorer import score_record
from tests.conftest import FIXTURES, load_fixture

pytestmark = pytest.mark.unit

AT = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def wrong_total() -> Record:
    """A form whose printed 总分 (98.25) is not what its scores add up to (98.15)."""
    return score_record(load_fixture(FIXTURES / "planted" / "wrong_total_score.json"))


@pytest.fixture
def unreadable_score(form_01: Record) -> Record:
    """A verified form whose fifth indicator score could not be read (as the parser reports it)."""
    form_01.form.indicators[4].score = None
    form_01.checks.append(
        Check(
            rule="field_readable",
            severity=Severity.error,
            status=CheckStatus.failed,
            message="form.indicators[4].score: not a number",
            found="1O.00",
            fields=["form.indicators[4].score"],
        )
    )
    return score_record(form_01)


def test_a_correction_that_mends_the_arithmetic_verifies(wrong_total: Record) -> None:
    assert wrong_total.status is Status.needs_review
    new = corrected(wrong_total, [("form.total_score", "98.15")], "alice", AT, "misread 5 as 2")
    assert new.status is Status.verified, new.reason
    assert new.form.total_score == Decimal("98.15")
    assert new.record_version == 2
    assert new.record_id == wrong_total.record_id
    (entry,) = new.provenance.corrections
    assert (entry.path, entry.old, entry.new, entry.reviewer, entry.note, entry.version) == (
        "form.total_score",
        "98.25",
        "98.15",
        "alice",
        "misread 5 as 2",
        2,
    )
    assert wrong_total.form.total_score == Decimal("98.25"), "the old version is never changed"


def test_a_typed_value_settles_the_parsers_doubt_about_it(unreadable_score: Record, form_01: Record) -> None:
    assert unreadable_score.status is Status.needs_review
    printed = load_fixture(FIXTURES / "forms" / "form_01.json").form.indicators[4].score
    new = corrected(unreadable_score, [("form.indicators[4].score", format(printed, "f"))], "bob", AT, None)
    assert new.status is Status.verified, new.reason
    assert not [c for c in new.checks if c.rule == "field_readable"]


def test_a_correction_that_does_not_mend_keeps_needing_review(wrong_total: Record) -> None:
    new = corrected(wrong_total, [("form.total_score", "98.20")], "alice", AT, None)
    assert new.status is Status.needs_review
    assert new.record_version == 2
    assert "total_score" in new.failing_rules()


def test_history_is_appended_to(wrong_total: Record) -> None:
    second = corrected(wrong_total, [("form.total_score", "98.20")], "alice", AT, None)
    third = corrected(second, [("form.total_score", "98.15")], "bob", AT, None)
    assert [(c.old, c.new, c.reviewer, c.version) for c in third.provenance.corrections] == [
        ("98.25", "98.20", "alice", 2),
        ("98.20", "98.15", "bob", 3),
    ]
    assert third.record_version == 3


@pytest.mark.parametrize(
    ("path", "value", "says"),
    [
        ("form.no_such_field", "1", "no such field"),
        ("form.indicators[99].score", "1", "no such row"),
        ("form.funding.total", "1", "not a value"),
        ("form.indicators[0].target_measure", "1", "not a value"),
        ("total_score", "1", "starts with 'form.'"),
        ("form.total_score", "ninety", "total_score"),
        ("form.total_score", "NaN", "total_score"),
        ("form.grade", "A+", "grade"),
        ("form.year", "twenty", "year"),
    ],
)
def test_refused_corrections_name_the_problem_and_change_nothing(
    wrong_total: Record, path: str, value: str, says: str
) -> None:
    before = wrong_total.model_dump_json()
    with pytest.raises(ReviewRefusedError) as refused:
        corrected(wrong_total, [(path, value)], "alice", AT, None)
    assert refused.value.refusal is Refusal.invalid
    assert says in refused.value.detail
    assert wrong_total.model_dump_json() == before


def test_no_corrections_or_a_path_twice_is_refused(wrong_total: Record) -> None:
    for changes in ([], [("form.total_score", "1"), ("form.total_score", "2")]):
        with pytest.raises(ReviewRefusedError):
            corrected(wrong_total, changes, "alice", AT, None)


def test_null_empties_a_field_and_the_record_cannot_verify(form_01: Record) -> None:
    new = corrected(score_record(form_01), [("form.total_score", None)], "alice", AT, None)
    assert new.form.total_score is None
    assert new.status is Status.needs_review


def test_a_confirmed_record_keeps_its_failing_checks(wrong_total: Record) -> None:
    new = confirmed(wrong_total, "carol", AT, "the unit added wrong")
    assert new.status is Status.confirmed
    assert new.record_version == 2
    assert new.failing_rules() == ["total_score"]
    assert new.form == wrong_total.form
    (entry,) = new.provenance.confirmations
    assert (entry.reviewer, entry.note, entry.version) == ("carol", "the unit added wrong", 2)
    assert new.reason and "carol" in new.reason and "total_score" in new.reason


def test_what_was_not_read_cannot_be_confirmed(unreadable_score: Record) -> None:
    with pytest.raises(ReviewRefusedError) as refused:
        confirmed(unreadable_score, "carol", AT, None)
    assert refused.value.refusal is Refusal.invalid
    assert "form.indicators[4].score" in refused.value.detail


def test_a_form_whose_arithmetic_holds_has_nothing_to_confirm(form_01: Record) -> None:
    with pytest.raises(ReviewRefusedError) as refused:
        confirmed(score_record(form_01), "carol", AT, None)
    assert refused.value.refusal is Refusal.conflict


def test_every_editable_field_can_be_corrected_to_what_it_holds(form_01: Record) -> None:
    from selfeval.review.corrections import editable_fields

    fields = editable_fields(form_01.form)
    paths = [path for path, _ in fields]
    assert {"form.total_score", "form.funding.carryover.executed", "form.indicators[0].score"} <= set(paths)
    assert not [path for path in paths if path.endswith("_measure") or "_measure." in path]
    scored = score_record(form_01)
    same = corrected(scored, [(path, value) for path, value in fields], "alice", AT, None)
    assert same.form == scored.form
    assert same.status is Status.verified


def test_the_current_copy_is_the_highest_version_in_any_folder(tmp_path: Path, wrong_total: Record) -> None:
    from selfeval.outbox import LocalOutbox, current_record

    outbox = LocalOutbox(tmp_path)
    assert current_record(outbox, wrong_total.record_id or "") is None
    outbox.write_record(wrong_total)
    newer = corrected(wrong_total, [("form.total_score", "98.15")], "alice", AT, None)
    # The moment between writing the new version and removing the old copy: both are there.
    (tmp_path / "verified").mkdir()
    (tmp_path / "verified" / f"{newer.record_id}.json").write_text(newer.model_dump_json())
    assert current_record(outbox, wrong_total.record_id or "") == newer
