"""Pydantic validation errors told in one line, for people and for dead-letter reasons."""

from __future__ import annotations

from pydantic import ValidationError


def describe_validation_error(error: ValidationError, whole: str = "record") -> str:
    """Where the first problem is and what it is, e.g. `records.0: Value error, record 0: …`
    (`whole` names the place when the problem is the input as a whole)."""
    problems = error.errors()
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"]) or whole
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}: {first['msg']}{more}"
