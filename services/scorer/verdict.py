"""Scoring a record: read the measures, run every rule, decide the status."""

from __future__ import annotations

from selfeval.contract import Check, CheckStatus, Record, Severity, Status
from services.scorer.measures import parse_measure
from services.scorer.rules import RULE_NAMES, run_rules
from services.scorer.suggestions import suggestions_for


def status_for(checks: list[Check]) -> Status:
    """`verified` only when every error-level check passes and nothing was skipped."""
    if any(c.status is CheckStatus.skipped for c in checks):
        return Status.needs_review
    if any(c.severity is Severity.error and c.status is CheckStatus.failed for c in checks):
        return Status.needs_review
    return Status.verified


def review_reason(checks: list[Check]) -> str | None:
    failed = sorted(
        {c.rule for c in checks if c.severity is Severity.error and c.status is CheckStatus.failed}
    )
    skipped = sorted({c.rule for c in checks if c.status is CheckStatus.skipped})
    parts = []
    if failed:
        parts.append("failed: " + ", ".join(failed))
    if skipped:
        parts.append("could not check: " + ", ".join(skipped))
    return "; ".join(parts) or None


def score_record(record: Record) -> Record:
    """Recompute every figure of the form and say, rule by rule, what holds.

    Checks that other stages added (the parser's field-confidence checks) are kept; the scorer's
    own are recomputed, and so are the suggestions (the values the form's arithmetic implies for the
    fields needing review), so scoring a scored record gives the same record.
    """
    if record.status is Status.rejected:
        return record
    form = record.form.model_copy(deep=True)
    for indicator in form.indicators:
        indicator.target_measure = parse_measure(indicator.target)
        indicator.actual_measure = parse_measure(indicator.actual)
    upstream = [check for check in record.checks if check.rule not in RULE_NAMES]
    checks = upstream + run_rules(form)
    # A record typed by hand (no submission) is identified by its form as scored.
    record_id = record.record_id or record.model_copy(update={"form": form}).identity()
    status = status_for(checks)
    scored = record.model_copy(
        update={
            "record_id": record_id,
            "form": form,
            "checks": checks,
            "status": status,
            "reason": review_reason(checks) if status is Status.needs_review else None,
        }
    )
    provenance = scored.provenance.model_copy(update={"suggestions": suggestions_for(scored)})
    return scored.model_copy(update={"provenance": provenance})
