"""What a reviewer's decision does to a record: pure functions from one record version to the next.

Two decisions exist. A **correction** replaces misread values (named by their record paths) and the
record is scored again: it is `verified` only if every error-level rule now passes. A **confirmation**
says the values match the scan and the form's own arithmetic is wrong: the record becomes `confirmed`
with its failing checks kept. Either way the record's version goes up by one and the decision is
appended to its provenance; nothing else of the record is touched.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from selfeval.contract import (
    CheckStatus,
    Confirmation,
    Correction,
    Form,
    Record,
    Severity,
    Status,
)
from selfeval.contract.paths import path_steps
from selfeval.contract.record import READING_RULES
from selfeval.validation import describe_validation_error
from services.scorer import score_record

SCORER_SET = frozenset({"target_measure", "actual_measure"})
"""Fields the scorer derives from others; a reviewer corrects the printed text they come from."""


class Refusal(StrEnum):
    """Why a review call is refused; the HTTP layer maps each to its status code."""

    not_found = "not_found"
    conflict = "conflict"
    invalid = "invalid"
    forbidden = "forbidden"


class ReviewRefusedError(Exception):
    def __init__(self, refusal: Refusal, detail: str) -> None:
        super().__init__(detail)
        self.refusal, self.detail = refusal, detail


def _invalid(detail: str) -> ReviewRefusedError:
    return ReviewRefusedError(Refusal.invalid, detail)


def _locate(form: dict[str, Any], path: str) -> tuple[dict[str, Any], str]:
    """The dict holding the leaf a record path names, and the leaf's key (ValueError: no such leaf)."""
    steps = path_steps(path)
    node: Any = form
    for position, (name, index) in enumerate(steps, start=1):
        if not isinstance(node, dict) or name not in node:
            raise ValueError("no such field in the record")
        if position == len(steps) and index is None:
            if isinstance(node[name], dict | list) or name in SCORER_SET:
                raise ValueError("not a value a reviewer can set")
            return node, name
        node = node[name]
        if index is not None:
            if not isinstance(node, list) or index >= len(node):
                raise ValueError("no such row in the record")
            node = node[index]
    raise ValueError("not a value a reviewer can set")


def editable_fields(form: Form) -> list[tuple[str, str | None]]:
    """Every value a reviewer can set, as (record path, value as text), in the form's order."""
    fields: list[tuple[str, str | None]] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key not in SCORER_SET:
                    walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}[{index}]")
        else:
            fields.append((path, _as_text(node)))

    walk(form.model_dump(mode="json"), "form")
    return fields


def _as_text(value: Any) -> str | None:
    return None if value is None else str(value)


def corrected(
    record: Record, changes: list[tuple[str, str | None]], reviewer: str, at: datetime, note: str | None
) -> Record:
    """The next version of `record` with `changes` (path, new value as text; None empties the field)
    applied and the record scored again. Raises ReviewRefusedError(invalid) naming the first path that
    does not exist or value the contract refuses; the record itself is never changed."""
    if not changes:
        raise _invalid("no corrections given")
    paths = [path for path, _ in changes]
    if len(set(paths)) != len(paths):
        raise _invalid("a path is corrected twice in one request")
    form = record.form.model_dump(mode="json")
    history = []
    version = record.record_version + 1
    for path, value in changes:
        try:
            parent, key = _locate(form, path)
        except ValueError as exc:
            raise _invalid(f"{path}: {exc}") from None
        history.append(
            Correction(
                path=path,
                old=_as_text(parent[key]),
                new=value,
                reviewer=reviewer,
                at=at,
                note=note,
                version=version,
            )
        )
        parent[key] = value
    try:
        new_form = Form.model_validate(form)
    except ValidationError as exc:
        raise _invalid(f"form.{describe_validation_error(exc, 'form')}") from None
    for entry in history:
        # What the contract made of the value (e.g. "98.150" stays a decimal, "2024" a year).
        parent, key = _locate(new_form.model_dump(mode="json"), entry.path)
        entry.new = _as_text(parent[key])
    # A reviewer who types a value has read it: the parser's doubt about it goes.
    corrected_paths = set(paths)
    kept_checks = [
        check
        for check in record.checks
        if not (check.rule in READING_RULES and set(check.fields) <= corrected_paths)
    ]
    provenance = record.provenance.model_copy(deep=True)
    provenance.corrections = [*provenance.corrections, *history]
    draft = record.model_copy(
        update={
            "form": new_form,
            "checks": kept_checks,
            "status": Status.needs_review,  # scoring decides
            "record_version": version,
            "provenance": provenance,
        }
    )
    return score_record(draft)


def confirmed(record: Record, reviewer: str, at: datetime, note: str | None) -> Record:
    """The next version of `record`, confirmed as printed. Only the form's arithmetic may fail: a value
    that could not be read (or was read with doubt) must be corrected first, since nobody can confirm
    what the record does not hold."""
    unread = sorted(
        {
            path
            for check in record.checks
            if check.rule in READING_RULES
            and check.severity is Severity.error
            and check.status is not CheckStatus.passed
            for path in check.fields
        }
    )
    if unread:
        raise _invalid("correct the values that were not read with confidence first: " + ", ".join(unread))
    failing = record.failing_rules()
    if not failing:
        raise ReviewRefusedError(Refusal.conflict, "every rule passes: there is nothing to confirm")
    version = record.record_version + 1
    provenance = record.provenance.model_copy(deep=True)
    provenance.confirmations = [
        *provenance.confirmations,
        Confirmation(reviewer=reviewer, at=at, note=note, version=version),
    ]
    return record.model_copy(
        update={
            "status": Status.confirmed,
            "reason": f"confirmed as printed by {reviewer}; the form's arithmetic fails: "
            + ", ".join(failing),
            "record_version": version,
            "provenance": provenance,
        }
    )
