"""Record paths: how checks (`Check.fields`) and provenance (`field_confidence`, `raw_text`) name a
field of the record, e.g. `form.funding.total.executed` or `form.indicators[3].score`."""

from __future__ import annotations


def funding_path(row: str, column: str | None = None) -> str:
    """A funding row (`total`, `current_year_appropriation`, …), or one of its columns."""
    return f"form.funding.{row}" + (f".{column}" if column else "")


def indicator_path(index: int, column: str) -> str:
    return f"form.indicators[{index}].{column}"


def goal_path(index: int, column: str) -> str:
    return f"form.goals[{index}].{column}"


def form_path(name: str) -> str:
    """A field of the form itself: `year`, `project_name`, `total_score`, …"""
    return f"form.{name}"
