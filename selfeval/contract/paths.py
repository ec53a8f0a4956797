"""Record paths: how checks (`Check.fields`) and provenance (`field_confidence`, `raw_text`) name a
field of the record, e.g. `form.funding.total.executed` or `form.indicators[3].score`."""

from __future__ import annotations

import re
from typing import Any

_STEP = re.compile(r"(?P<name>\w+)(?:\[(?P<index>\d+)\])?")


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


def path_steps(path: str) -> list[tuple[str, int | None]]:
    """The steps of a record path below `form`: `form.indicators[3].score` → `[("indicators", 3),
    ("score", None)]`. ValueError for anything that is not written as a record path."""
    head, _, rest = path.partition(".")
    if head != "form" or not rest:
        raise ValueError("a path starts with 'form.', e.g. form.total_score")
    steps: list[tuple[str, int | None]] = []
    for step in rest.split("."):
        match = _STEP.fullmatch(step)
        if match is None:
            raise ValueError("no such field in the record")
        steps.append((match["name"], None if match["index"] is None else int(match["index"])))
    return steps


def value_at(form: dict[str, Any], path: str) -> Any:
    """The value a record path (`form.indicators[3].score`) names in a dumped form; None when it is
    empty or names nothing."""
    try:
        steps = path_steps(path)
    except ValueError:
        return None
    node: Any = form
    for name, index in steps:
        if not isinstance(node, dict):
            return None
        node = node.get(name)
        if index is not None:
            if not isinstance(node, list) or index >= len(node):
                return None
            node = node[index]
    return node
