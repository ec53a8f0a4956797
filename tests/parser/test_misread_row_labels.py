"""A funding row whose label OCR misread past matching (a seal over it, a 1-bit scan's broken strokes)
is still read when its label cell resembles the one row label not yet read; where it resembles none, or
more than one, the row stays unread and its figures are named, never guessed."""

from __future__ import annotations

import pytest

from selfeval.contract import CheckStatus, Status
from selfeval.contract.ocr import PageTables
from tests.parser.test_doubtful_cells import FORM, cell_reading, scored, tables

pytestmark = pytest.mark.unit

CURRENT_YEAR = "其中：当年财政拨款"
ROW_FIELDS = ("initial_budget", "annual_budget", "executed", "execution_rate")


def with_label(text: str, read_as: str) -> PageTables:
    read = tables()
    cell = cell_reading(read, text)
    cell.text = read_as
    return read


def unreadable(record_checks: list, row: str) -> set[str]:
    prefix = f"form.funding.{row}."
    return {
        path
        for check in record_checks
        if check.rule == "field_readable" and check.status is CheckStatus.failed
        for path in check.fields
        if path.startswith(prefix)
    }


def test_a_row_label_misread_past_matching_is_known_by_resemblance() -> None:
    # Three characters of eight misread (其→具, 财→制, 拨→援): no match, but like this row alone.
    record = scored(with_label(CURRENT_YEAR, "具中：当年制政援款"))
    assert record.form.funding.current_year_appropriation == FORM.funding.current_year_appropriation
    assert record.status is Status.verified, record.reason


def test_a_row_label_like_no_row_leaves_the_row_unread() -> None:
    record = scored(with_label(CURRENT_YEAR, "R9012"))
    assert record.status is Status.needs_review
    assert unreadable(record.checks, "current_year_appropriation") == {
        f"form.funding.current_year_appropriation.{field}" for field in ROW_FIELDS
    }


def test_a_row_label_like_two_unread_rows_is_neither() -> None:
    # 年资金 is as like 上年结转资金 as 其他资金 (both still unread when the row comes): no row is chosen.
    record = scored(with_label(CURRENT_YEAR, "年资金"))
    assert record.status is Status.needs_review
    assert unreadable(record.checks, "current_year_appropriation") == {
        f"form.funding.current_year_appropriation.{field}" for field in ROW_FIELDS
    }
    assert record.form.funding.carryover == FORM.funding.carryover
    assert record.form.funding.other == FORM.funding.other
