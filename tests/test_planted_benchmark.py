"""How `benchmarks.planted_errors` counts a planted scan's outcome."""

import pytest

from benchmarks.planted_errors import Caught, outcome
from scangen.fixtures import real_forms
from scangen.planted import Mistake, plant
from selfeval.contract import Record
from services.scorer import score_record

pytestmark = pytest.mark.unit


def scored(mistake: Mistake | None, unread_total: bool = False) -> Record:
    form = real_forms()[0].form
    form = plant(form, mistake) if mistake else form
    if unread_total:
        form.total_score = None
    return score_record(Record(form=form))


def test_a_mistake_named_by_its_rule_is_named() -> None:
    assert outcome([scored(Mistake.total_score)], Mistake.total_score) == Caught(scans=1, named=1)


def test_a_mistake_whose_figure_was_not_read_needs_review_for_another_reason() -> None:
    caught = outcome([scored(Mistake.total_score, unread_total=True)], Mistake.total_score)
    assert caught == Caught(scans=1, review=1)


def test_a_record_verified_is_a_missed_mistake_and_no_record_is_no_form() -> None:
    assert outcome([scored(None)], Mistake.grade) == Caught(scans=1, verified=1)
    assert outcome([], Mistake.grade) == Caught(scans=1, no_form=1)
