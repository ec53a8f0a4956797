"""How `benchmarks.field_accuracy` judges a record against the form drawn."""

import pytest

from benchmarks.field_accuracy import judged
from scangen.fixtures import real_forms
from selfeval.contract import Record, Status
from services.scorer import score_record

pytestmark = pytest.mark.unit


def read_as(**changes: object) -> tuple[Record, Record]:
    """The true form, and a verified record of it read with `changes`."""
    truth = real_forms()[0]
    record = score_record(Record(form=truth.form.model_copy(update=changes)))
    return truth, record


def test_a_form_read_exactly_and_verified_counts_nothing_wrong() -> None:
    truth, record = read_as()
    assert record.status is Status.verified
    cell = judged(record, truth.form)
    assert (cell.verified, cell.verified_wrong, cell.verified_wrong_header) == (1, 0, 0)
    assert cell.figures_exact == cell.figures and cell.texts_exact == cell.texts


def test_a_verified_form_with_a_header_read_wrong_is_counted() -> None:
    # No rule reads the unit's name: a slip there passes every check, so only the count shows it.
    truth, record = read_as(implementing_unit="上海科学术交流中心")
    assert record.status is Status.verified
    cell = judged(record, truth.form)
    assert (cell.verified, cell.verified_wrong, cell.verified_wrong_header) == (1, 0, 1)
    assert cell.texts_exact == cell.texts - 1


def test_no_form_found_is_every_field_wrong() -> None:
    truth = real_forms()[0]
    cell = judged(None, truth.form)
    assert (cell.verified, cell.figures_exact, cell.texts_exact) == (0, 0, 0)
