"""The record: what selfeval emits for each form it reads.

Downstream consumers read these exact field paths. Amounts, rates, weights and scores are
`Decimal` and serialise as plain decimal strings ("3900.00"); a printed "-" is `null`.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from selfeval.contract.paths import value_at

SCHEMA_VERSION = "1.1"
"""1.1: `record_version`, the `confirmed` status, and provenance `field_locations`, `suggestions`,
`corrections` and `confirmations` (review)."""

RECORD_ID_LENGTH = 24
RECORD_ID_PATTERN = rf"^[0-9a-f]{{{RECORD_ID_LENGTH}}}$"
"""What `record_id_for` gives: the first 24 hex digits of a SHA-256. Anything else is not a record id,
and never becomes a file name or an object key."""


def _decimal_text(value: Decimal) -> str:
    # Fixed-point text, never exponent notation ("1E+1") and never a float.
    return format(value, "f")


Number = Annotated[
    Decimal,
    Field(allow_inf_nan=False),
    PlainSerializer(_decimal_text, return_type=str, when_used="json"),
]
"""A decimal figure from the form; JSON carries it as a string such as "3900.00"."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Status(StrEnum):
    verified = "verified"
    needs_review = "needs_review"
    rejected = "rejected"
    confirmed = "confirmed"
    """A person checked that the values match the scan and the form's own arithmetic is wrong: an audit
    finding. Only a review gives it; scoring never does."""


class Severity(StrEnum):
    error = "error"
    warning = "warning"


class CheckStatus(StrEnum):
    passed = "pass"
    failed = "fail"
    skipped = "skipped"


class Grade(StrEnum):
    excellent = "优"
    good = "良"
    fair = "中"
    poor = "差"


class FundingRow(_Model):
    """One row of the 项目资金（万元） block."""

    initial_budget: Number | None = Field(None, description="年初预算数")
    annual_budget: Number | None = Field(None, description="全年预算数")
    executed: Number | None = Field(None, description="全年执行数")
    weight: Number | None = Field(None, description="分数 (only the total row has one)")
    execution_rate: Number | None = Field(None, description="执行率(%)")
    score: Number | None = Field(None, description="得分 (only the total row has one)")


class Funding(_Model):
    total: FundingRow = Field(description="年度资金总额")
    current_year_appropriation: FundingRow = Field(description="其中：当年财政拨款")
    carryover: FundingRow = Field(description="上年结转资金")
    other: FundingRow = Field(description="其他资金")


class Goal(_Model):
    """One 年度总体目标 pair."""

    expected: str = Field(description="预期目标")
    actual: str | None = Field(None, description="实际完成情况")


class Operator(StrEnum):
    eq = "="
    ge = "≥"
    gt = ">"
    le = "≤"
    lt = "<"


class Measure(_Model):
    """A target or actual value read structurally: `≥90.00(百分比)` → operator ≥, 90.00, 百分比."""

    text: str
    operator: Operator | None = None
    value: Number | None = None
    unit: str | None = None

    @property
    def is_quantitative(self) -> bool:
        return self.value is not None


class Indicator(_Model):
    """One 三级指标 row of the indicator table."""

    level1: str = Field(description="一级指标, e.g. 产出指标")
    level2: str = Field(description="二级指标, e.g. 数量指标")
    name: str = Field(description="三级指标")
    target: str | None = Field(None, description="年度指标值 as printed")
    actual: str | None = Field(None, description="实际完成值 as printed")
    weight: Number | None = Field(None, description="分值")
    score: Number | None = Field(None, description="得分")
    deviation_reason: str | None = Field(None, description="偏差原因分析及改进措施")
    target_measure: Measure | None = Field(None, description="target read structurally (set by the scorer)")
    actual_measure: Measure | None = Field(None, description="actual read structurally (set by the scorer)")


class Form(_Model):
    """The content of one 财政项目支出绩效自评表."""

    year: int | None = Field(None, description="from the year line （2024 年度）")
    project_name: str | None = Field(None, description="项目名称")
    department: str | None = Field(None, description="主管部门")
    implementing_unit: str | None = Field(None, description="实施单位")
    funding: Funding
    goals: list[Goal] = Field(default_factory=list, description="年度总体目标")
    indicators: list[Indicator] = Field(default_factory=list)
    total_weight: Number | None = Field(None, description="总分 row, 分值 column (printed 100.00)")
    total_score: Number | None = Field(None, description="总分 row, 得分 column")
    grade: Grade | None = Field(None, description="评分等级")


FIELD_READABLE = "field_readable"
"""The rule of a required field that is missing or not a value of its kind (the parser's)."""
FIELD_CONFIDENCE = "field_confidence"
"""The rule of a field read with less OCR confidence than the minimum (the parser's)."""
READING_RULES = frozenset({FIELD_READABLE, FIELD_CONFIDENCE})
"""The checks on how a value was read, as opposed to what the form's arithmetic says of it."""


class Check(_Model):
    """The outcome of one rule on one place of the form."""

    rule: str
    severity: Severity
    status: CheckStatus
    message: str
    expected: str | None = None
    found: str | None = None
    fields: list[str] = Field(description="record paths the rule read, e.g. form.funding.total.score")


class Submission(_Model):
    sha256: str | None = Field(None, description="SHA-256 of the submitted file's bytes")
    source: str | None = Field(None, description="bucket key or path it came from")
    pages: list[int] = Field(default_factory=list, description="1-based pages the form was read from")


Fraction = Annotated[float, Field(ge=0, le=1)]


class FieldLocation(_Model):
    """Where a field's value sits on the scan."""

    page: int = Field(ge=1, description="1-based page of the submission")
    box: tuple[Fraction, Fraction, Fraction, Fraction] = Field(
        description="[x0, y0, x1, y1] as fractions of the upright page's width and height"
    )


class Suggestion(_Model):
    """The value the form's other figures imply for a field that fails or could not be read.

    Never applied by itself: a reviewer accepts it or not."""

    value: str = Field(description='as it would be typed: a decimal such as "98.15", or a grade')
    because: str = Field(description="the arithmetic that gives it")


class Correction(_Model):
    """One value a reviewer changed (append-only history)."""

    path: str
    old: str | None = Field(description="the value before, as text; null when it was empty")
    new: str | None
    reviewer: str
    at: datetime
    note: str | None = None
    version: int = Field(ge=2, description="the record_version this correction produced")


class Confirmation(_Model):
    """A reviewer confirmed the values as printed: the form's own arithmetic is wrong."""

    reviewer: str
    at: datetime
    note: str | None = None
    version: int = Field(ge=2, description="the record_version this confirmation produced")


class Provenance(_Model):
    model_config = ConfigDict(extra="allow")

    pipeline_version: str | None = None
    models: dict[str, str] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict, description="seconds per stage")
    field_confidence: dict[str, float] = Field(
        default_factory=dict, description="OCR confidence per record path, once OCR exists"
    )
    field_locations: dict[str, FieldLocation] = Field(
        default_factory=dict, description="where each record path was read on the scan"
    )
    suggestions: dict[str, Suggestion] = Field(
        default_factory=dict, description="values the form's arithmetic implies for failing fields"
    )
    corrections: list[Correction] = Field(default_factory=list, description="review history, oldest first")
    confirmations: list[Confirmation] = Field(default_factory=list)

    def reading_confidence(self, path: str) -> float | None:
        """The OCR's confidence in the value at `path`, or None where there is no reading behind it: a
        value a reviewer typed is no longer the OCR's (its old confidence stays in `field_confidence`)."""
        if any(correction.path == path for correction in self.corrections):
            return None
        return self.field_confidence.get(path)


class Record(_Model):
    record_id: str | None = Field(
        None,
        pattern=RECORD_ID_PATTERN,
        description="stable id, 24 hex digits: the same submission and form always give the same id",
    )
    schema_version: str = SCHEMA_VERSION
    record_version: int = Field(
        1, ge=1, description="1 as first published; each review (correction or confirmation) adds one"
    )
    submission: Submission = Field(default_factory=Submission)
    status: Status | None = None
    reason: str | None = Field(None, description="why the input was rejected, or what needs review")
    form: Form
    checks: list[Check] = Field(default_factory=list)
    provenance: Provenance = Field(default_factory=Provenance)

    def failing_rules(self) -> list[str]:
        """The error-level rules that did not pass (failed, or skipped for want of their inputs)."""
        return sorted(
            {
                c.rule
                for c in self.checks
                if c.severity is Severity.error and c.status is not CheckStatus.passed
            }
        )

    def failed_rules(self) -> list[str]:
        """Of `failing_rules`, those that ran and failed: the form's figures (or a reading) disagree."""
        return sorted(
            {c.rule for c in self.checks if c.severity is Severity.error and c.status is CheckStatus.failed}
        )

    def unchecked_rules(self) -> list[str]:
        """Of `failing_rules`, those that did not fail but could not run: an input they read is missing."""
        failed = set(self.failed_rules())
        return [rule for rule in self.failing_rules() if rule not in failed]

    def identity(self) -> str:
        """The record id its submission and first page give (`record_id_for`)."""
        pages = self.submission.pages
        return record_id_for(self.submission.sha256, pages[0] if pages else None, self.form)

    def fields_needing_review(self) -> list[str]:
        """The record paths a reviewer must look at, in the order the checks name them: every field
        that `questioned_fields` names."""
        seen: dict[str, None] = {}
        for _, fields in self.questioned_fields():
            seen.update(dict.fromkeys(fields))
        return list(seen)

    def questioned_fields(self) -> list[tuple[Check, list[str]]]:
        """Each error-level check that did not pass, with the fields it puts in question: every field
        of one that failed (any of its figures may be the misread one), and of a rule that could not
        run for want of inputs, the inputs that are missing (the others were read and will be checked
        once those are there)."""
        questioned = []
        form: dict[str, Any] | None = None  # dumped once, and only if a rule could not run
        for check in self.checks:
            if check.severity is not Severity.error or check.status is CheckStatus.passed:
                continue
            if check.status is CheckStatus.skipped:
                form = form if form is not None else self.form.model_dump()
                questioned.append((check, [path for path in check.fields if value_at(form, path) is None]))
            else:
                questioned.append((check, list(check.fields)))
        return questioned

    @classmethod
    def rejected(cls, sha256: str | None, source: str | None, pages: list[int], reason: str) -> Record:
        """The record of a submission that is not a readable form: nothing is lost, the reason is kept."""
        empty = FundingRow()
        form = Form(
            funding=Funding(total=empty, current_year_appropriation=empty, carryover=empty, other=empty)
        )
        return cls(
            record_id=record_id_for(sha256, 1, form) if sha256 else None,
            submission=Submission(sha256=sha256, source=source, pages=pages),
            status=Status.rejected,
            reason=reason,
            form=form,
        )


def record_id_for(submission_sha256: str | None, first_page: int | None, form: Form) -> str:
    """Stable id: the same submission and form always give the same id.

    Within a submission a form is identified by where it starts; without a submission (a record
    typed by hand) the form's own content is the identity.
    """
    if submission_sha256:
        basis = f"{submission_sha256}:{first_page or 1}"
    else:
        basis = json.dumps(form.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(basis.encode()).hexdigest()[:RECORD_ID_LENGTH]


def is_record_id(text: str) -> bool:
    return re.fullmatch(RECORD_ID_PATTERN, text) is not None


def record_json_schema() -> dict[str, Any]:
    return Record.model_json_schema(mode="serialization")
