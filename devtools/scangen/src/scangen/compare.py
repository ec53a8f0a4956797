"""Comparing records field by field, for tests that check what was read against what was printed."""

from __future__ import annotations

from typing import Any

from selfeval.contract import Form

_MEASURES = {"indicators": {"__all__": {"target_measure", "actual_measure"}}}

# The numeric fields of a form (amounts, rates, weights, scores): the "figures" every check rests on.
# Every other field is a "text" (header, goals, indicator names and values, the grade).
FIGURES = (
    "initial_budget",
    "annual_budget",
    "executed",
    "weight",
    "execution_rate",
    "score",
    "total_score",
    "total_weight",
)


def is_figure(path: str) -> bool:
    """Whether the record path (`form.funding.total.executed`, `form.indicators[2].name`) is a figure."""
    return path.rsplit(".", 1)[-1] in FIGURES


def form_fields(form: Form) -> dict[str, Any]:
    return form.model_dump(mode="json", exclude=_MEASURES)  # type: ignore[arg-type]


def field_differences(got: Form, want: Form) -> list[str]:
    """Every record path where `got` differs from `want`, with both values."""
    differences: list[str] = []

    def walk(a: Any, b: Any, path: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                walk(a.get(key), b.get(key), f"{path}.{key}")
        elif isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                differences.append(f"{path}: {len(a)} items, want {len(b)}")
            for index, (x, y) in enumerate(zip(a, b, strict=False)):
                walk(x, y, f"{path}[{index}]")
        elif a != b:
            differences.append(f"{path}: {a!r}, want {b!r}")

    walk(form_fields(got), form_fields(want), "form")
    return differences


def leaf_values(form: Form) -> dict[str, Any]:
    """Every leaf field of a form by its record path (`form.indicators[3].name` → value)."""
    values: dict[str, Any] = {}

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]")
        else:
            values[path] = value

    walk(form_fields(form), "form")
    return values


def count_fields(form: Form) -> int:
    """How many leaf fields a form has (the denominator of field-level accuracy)."""
    return len(leaf_values(form))
