"""Arithmetic as a second reader: the value the form's other figures imply for a field in doubt.

A reviewer looks at the fields `Record.fields_needing_review()` names. For each of them whose value the
form's own arithmetic determines exactly, from figures that are themselves not in doubt, this module says
which value that is and why. It never changes the form: the record keeps what was read, and `verified`
keeps meaning that every figure was read and checks out.

Which field an equation is solved for:
- its result (总分, 执行率, funding 得分, 评分等级, a column's 年度资金总额, the 总分 row's 分值) whenever
  that field needs review: a wrong result among inputs that read fine is exactly the arithmetic error
  this exposes;
- one of its addends (a score within 总分, a weight within 100, a sub-row amount) only when that addend
  was not read, or was read with doubt: when every figure reads fine, a failing sum does not say which
  addend is wrong.

An input is in doubt when it is missing or named by an error-level check that failed, other than the
checks that name the field solved for (those may fail or skip because of that very field). A check that
could not run puts only its missing inputs in doubt: a score it names that was read fine is no less
sure because another score is missing. Two
equations implying different values for one field give no suggestion, and neither does a value that
would make a check fail that does not fail as read: the other figures would not agree with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from selfeval.contract import Check, CheckStatus, Form, FundingRow, Grade, Record, Severity, Suggestion
from selfeval.contract.paths import form_path, funding_path, indicator_path, path_steps
from services.scorer.arithmetic import CENT, HUNDRED, ZERO, execution_rate, funding_score, grade_for
from services.scorer.rules import (
    AMOUNT_COLUMNS,
    ERROR_RULES,
    FUNDING_SUB_ROWS,
    RULE_NAMES,
    run_rules,
)

ROW_LABELS = {
    "total": "年度资金总额",
    "current_year_appropriation": "当年财政拨款",
    "carryover": "上年结转资金",
    "other": "其他资金",
}
COLUMN_LABELS = {"initial_budget": "年初预算数", "annual_budget": "全年预算数", "executed": "全年执行数"}


@dataclass(frozen=True)
class Implied:
    """What one equation of the form implies for one field."""

    path: str
    value: Decimal | Grade
    because: str
    inputs: tuple[str, ...]
    addend: bool = False  # solved for an addend: only offered when the addend was not read with confidence
    found: Decimal | Grade | None = None  # the addend as read


def suggestions_for(record: Record) -> dict[str, Suggestion]:
    """The implied value of every field needing review that the form's arithmetic determines exactly."""
    questioned = record.questioned_fields()
    needing_review = {field for _, fields in questioned for field in fields}
    if not needing_review:
        return {}
    unsure_readings = {
        path
        for check in record.checks
        if check.rule not in RULE_NAMES and _not_passed_error(check)
        for path in check.fields
    }
    by_path: dict[str, list[Implied]] = {}
    for implied in _implied_values(record.form):
        if implied.path not in needing_review:
            continue
        if implied.addend and implied.found is not None and implied.path not in unsure_readings:
            continue
        if not _doubtful(questioned, implied.path).isdisjoint(implied.inputs):
            continue
        by_path.setdefault(implied.path, []).append(implied)
    suggestions = {}
    for path, implied in by_path.items():
        if len({candidate.value for candidate in implied}) > 1:
            continue  # two equations disagree: the figures do not determine this one
        value = _printed(implied[0].value)
        if value is None or _contradicted(record.form, questioned, path, implied[0].value):
            continue
        # Equations that agree are all given: two of them saying the same value is worth knowing.
        suggestions[path] = Suggestion(
            value=value, because="；".join(candidate.because for candidate in implied)
        )
    return suggestions


def _implied_values(form: Form) -> Iterator[Implied]:
    """Every value an equation of the form gives from figures that were read, whatever their doubt."""
    yield from _from_funding_amounts(form)
    yield from _from_score_sum(form)
    yield from _from_weights(form)
    yield from _from_funding_columns(form)
    if form.total_score is not None:
        yield Implied(
            form_path("grade"),
            grade_for(form.total_score),
            f"评分等级由总分 {form.total_score} 定出",
            (form_path("total_score"),),
        )


def _printed(value: Decimal | Grade) -> str | None:
    """As the form prints it (two decimals, or the grade); `None` when no form could print it."""
    if isinstance(value, Grade):
        return value.value
    cents = value.quantize(CENT)
    if value < ZERO or cents != value:
        return None  # a negative amount or score, or finer than a cent: not a figure of the form
    return format(cents, "f")


def _from_score_sum(form: Form) -> Iterator[Implied]:
    """总分 = funding 得分 + Σ indicator 得分: the total from its addends, or one addend from the rest."""
    total_path, funding = form_path("total_score"), funding_path("total", "score")
    scores = {funding: form.funding.total.score} | {
        indicator_path(index, "score"): row.score for index, row in enumerate(form.indicators)
    }
    read = {path: value for path, value in scores.items() if value is not None}

    def indicator_sum(leaving_out: str | None = None) -> Decimal:
        return sum((value for path, value in read.items() if path not in (funding, leaving_out)), ZERO)

    # No form scores above 100 (its weights total 100): a larger sum means rows were misread (the 总分
    # row taken for an indicator, say), and says nothing about the 总分 printed.
    if len(read) == len(scores) and sum(read.values(), ZERO) <= HUNDRED:
        yield Implied(
            total_path,
            sum(read.values(), ZERO),
            f"总分 = 资金得分 {read[funding]} + Σ 指标得分 {indicator_sum()}",
            tuple(scores),
        )
    total = form.total_score
    if total is None:
        return
    for path, found in scores.items():
        others = [other for other in scores if other != path]
        if any(other not in read for other in others):
            continue
        if path == funding:
            because = f"资金得分 = 总分 {total} − Σ 指标得分 {indicator_sum()}"
        else:
            because = (
                f"指标得分 = 总分 {total} − 资金得分 {read[funding]} − Σ 其他指标得分 {indicator_sum(path)}"
            )
        yield Implied(
            path,
            total - sum((read[other] for other in others), ZERO),
            because,
            (total_path, *others),
            addend=True,
            found=found,
        )


def _from_weights(form: Form) -> Iterator[Implied]:
    """分数 + Σ 分值 = 100: one unread weight from the rest; and the 总分 row's 分值 as their sum."""
    funding = funding_path("total", "weight")
    weights = {funding: form.funding.total.weight} | {
        indicator_path(index, "weight"): row.weight for index, row in enumerate(form.indicators)
    }
    read = {path: value for path, value in weights.items() if value is not None}

    def indicator_sum(leaving_out: str | None = None) -> Decimal:
        return sum((value for path, value in read.items() if path not in (funding, leaving_out)), ZERO)

    if len(read) == len(weights):
        yield Implied(
            form_path("total_weight"),
            sum(read.values(), ZERO),
            f"总分分值 = 分数 {read[funding]} + Σ 指标分值 {indicator_sum()}",
            tuple(weights),
        )
    for path, found in weights.items():
        others = [other for other in weights if other != path]
        if any(other not in read for other in others):
            continue
        if path == funding:
            because = f"分数 = 100 − Σ 指标分值 {indicator_sum()}"
        else:
            because = f"分值 = 100 − 分数 {read[funding]} − Σ 其他指标分值 {indicator_sum(path)}"
        yield Implied(
            path,
            HUNDRED - sum((read[other] for other in others), ZERO),
            because,
            tuple(others),
            addend=True,
            found=found,
        )


def _from_funding_amounts(form: Form) -> Iterator[Implied]:
    """Each row's 执行率, and the total row's 得分, from 全年执行数 / 全年预算数."""
    for name, label in ROW_LABELS.items():
        row: FundingRow = getattr(form.funding, name)
        if row.executed is None or row.annual_budget is None:
            continue
        amounts = (funding_path(name, "annual_budget"), funding_path(name, "executed"))
        yield Implied(
            funding_path(name, "execution_rate"),
            execution_rate(row.executed, row.annual_budget),
            f"{label}执行率 = 全年执行数 {row.executed} / 全年预算数 {row.annual_budget} × 100，"
            "截断至两位小数",
            amounts,
        )
        if name == "total" and row.weight is not None:
            yield Implied(
                funding_path(name, "score"),
                funding_score(row.weight, row.executed, row.annual_budget),
                f"资金得分 = 分数 {row.weight} × 全年执行数 {row.executed} / 全年预算数 {row.annual_budget}，"
                "四舍五入至两位小数，不超过分数",
                (funding_path(name, "weight"), *amounts),
            )


def _from_funding_columns(form: Form) -> Iterator[Implied]:
    """当年财政拨款 + 上年结转资金 + 其他资金 = 年度资金总额: the total, or one sub-row from the rest."""
    for column in AMOUNT_COLUMNS:
        label = COLUMN_LABELS[column]
        total: Decimal | None = getattr(form.funding.total, column)
        parts: dict[str, Decimal | None] = {
            name: getattr(getattr(form.funding, name), column) for name in FUNDING_SUB_ROWS
        }
        read = {name: value for name, value in parts.items() if value is not None}
        if len(read) == len(parts):
            yield Implied(
                funding_path("total", column),
                sum(read.values(), ZERO),
                f"{label}：年度资金总额 = "
                + " + ".join(f"{ROW_LABELS[name]} {value}" for name, value in read.items()),
                tuple(funding_path(name, column) for name in parts),
            )
        if total is None:
            continue
        for name, found in parts.items():
            others = [other for other in parts if other != name]
            if any(other not in read for other in others):
                continue
            yield Implied(
                funding_path(name, column),
                total - sum((read[other] for other in others), ZERO),
                f"{label}：{ROW_LABELS[name]} = 年度资金总额 {total} − "
                + " − ".join(f"{ROW_LABELS[other]} {read[other]}" for other in others),
                (funding_path("total", column), *(funding_path(other, column) for other in others)),
                addend=True,
                found=found,
            )


def _not_passed_error(check: Check) -> bool:
    return check.severity is Severity.error and check.status is not CheckStatus.passed


def _doubtful(questioned: list[tuple[Check, list[str]]], path: str) -> set[str]:
    """The figures in doubt, as far as the field at `path` is concerned: those an error check that does
    not pass puts in question (`Record.questioned_fields`: of a check that could not run, only the
    missing inputs), leaving out the checks that name the field itself (they may fail or skip because
    of that very field, which is what is being solved for)."""
    return {field for check, fields in questioned if path not in check.fields for field in fields}


def _contradicted(
    form: Form, questioned: list[tuple[Check, list[str]]], path: str, value: Decimal | Grade
) -> bool:
    """Whether the value would make a check fail that does not fail as read, among figures not in doubt.

    A check that newly fails only because another of its figures is in doubt says nothing against it."""
    doubtful = _doubtful(questioned, path)
    newly_failing = _failing(_with_value(form, path, value)) - _failing(form)
    return any(doubtful.isdisjoint(set(fields) - {path}) for _, fields in newly_failing)


def _failing(form: Form) -> set[tuple[str, tuple[str, ...]]]:
    """The error checks of the form's arithmetic that fail, each named by its rule and fields."""
    return {
        (check.rule, tuple(check.fields))
        for check in run_rules(form, ERROR_RULES)
        if check.status is CheckStatus.failed
    }


def _with_value(form: Form, path: str, value: Decimal | Grade) -> Form:
    """A copy of the form with one field set: to see what the rules say of the suggested value."""
    changed = form.model_copy(deep=True)
    owner: Any = changed
    *owners, (name, _) = path_steps(path)
    for step, index in owners:
        owner = getattr(owner, step)
        if index is not None:
            owner = owner[index]
    setattr(owner, name, value)
    return changed
