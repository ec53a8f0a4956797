"""The rules a form must follow, one function each, named after what it checks.

Error rules are the form's arithmetic (../shared/domain-rules.md, "Arithmetic that must hold");
warning rules are evaluation policy that real forms may depart from. A rule whose inputs are
missing reports `skipped`, which keeps the record from being `verified` — unless what was read
already breaks it (a 总分 above what its read 得分 and unread 分值 allow fails, naming the 总分).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from selfeval.contract import Check, CheckStatus, Form, FundingRow, Severity
from selfeval.contract.paths import funding_path, indicator_path
from services.scorer.arithmetic import (
    CENT,
    HUNDRED,
    ZERO,
    execution_rate,
    funding_score,
    grade_for,
    proportional_score,
)
from services.scorer.measures import Achievement, achievement_of, is_reverse, target_met

FUNDING_ROWS = ("total", "current_year_appropriation", "carryover", "other")
FUNDING_SUB_ROWS = FUNDING_ROWS[1:]
AMOUNT_COLUMNS = ("initial_budget", "annual_budget", "executed")
# 财预〔2020〕10号 default weights; the funding block's 分数 stands for 预算执行率.
DEFAULT_LEVEL1_WEIGHTS = {"产出指标": Decimal(50), "效益指标": Decimal(30), "满意度指标": Decimal(10)}
# Share of 分值 a qualitative outcome earns: [low, high) (达成 includes 100 %).
ACHIEVEMENT_SHARE = {
    Achievement.achieved: (Decimal("0.8"), Decimal("1")),
    Achievement.partly: (Decimal("0.6"), Decimal("0.8")),
    Achievement.not_achieved: (Decimal("0"), Decimal("0.6")),
}


def _text(value: Decimal | str | None) -> str | None:
    if value is None:
        return None
    return format(value, "f") if isinstance(value, Decimal) else value


@dataclass(frozen=True)
class Report:
    """How a rule reports its checks: its name and severity are given once, where it is registered."""

    rule: str
    severity: Severity

    def outcome(
        self,
        fields: list[str],
        holds: bool,
        message: str,
        expected: Decimal | str | None = None,
        found: Decimal | str | None = None,
    ) -> Check:
        return Check(
            rule=self.rule,
            severity=self.severity,
            status=CheckStatus.passed if holds else CheckStatus.failed,
            message=message,
            expected=_text(expected),
            found=_text(found),
            fields=fields,
        )

    def skipped(self, fields: list[str], missing: list[str]) -> Check:
        return Check(
            rule=self.rule,
            severity=self.severity,
            status=CheckStatus.skipped,
            message="cannot check, missing: " + ", ".join(missing),
            fields=fields,
        )


CheckFunction = Callable[[Form, Report], list[Check]]


@dataclass(frozen=True)
class Rule:
    """A registered rule: its name (its function's, without `check_`), its severity and its check."""

    name: str
    severity: Severity
    check: CheckFunction

    def __call__(self, form: Form) -> list[Check]:
        return self.check(form, Report(self.name, self.severity))


_REGISTRY: list[Rule] = []


def _registered(severity: Severity) -> Callable[[CheckFunction], Rule]:
    def register(check: CheckFunction) -> Rule:
        rule = Rule(check.__name__.removeprefix("check_"), severity, check)
        _REGISTRY.append(rule)
        return rule

    return register


error_rule = _registered(Severity.error)
warning_rule = _registered(Severity.warning)


def _missing(values: dict[str, object]) -> list[str]:
    return [path for path, value in values.items() if value is None]


def _row(form: Form, name: str) -> FundingRow:
    row: FundingRow = getattr(form.funding, name)
    return row


# --- errors: the arithmetic ------------------------------------------------------------------


@error_rule
def check_header_complete(form: Form, report: Report) -> list[Check]:
    """年度, 项目名称, 主管部门 and 实施单位 are read."""
    values = {
        "form.year": form.year,
        "form.project_name": form.project_name,
        "form.department": form.department,
        "form.implementing_unit": form.implementing_unit,
    }
    missing = [path for path, value in values.items() if value in (None, "")]
    return [
        report.outcome(
            list(values),
            not missing,
            "missing: " + ", ".join(missing) if missing else "header complete",
        )
    ]


@error_rule
def check_execution_rate(form: Form, report: Report) -> list[Check]:
    """执行率 = 全年执行数 / 全年预算数 × 100, truncated to 2 decimals, on every funding row."""
    checks = []
    for name in FUNDING_ROWS:
        row = _row(form, name)
        inputs = {
            funding_path(name, "annual_budget"): row.annual_budget,
            funding_path(name, "executed"): row.executed,
            funding_path(name, "execution_rate"): row.execution_rate,
        }
        if missing := _missing(inputs):
            checks.append(report.skipped(list(inputs), missing))
            continue
        assert row.executed is not None and row.annual_budget is not None
        expected = execution_rate(row.executed, row.annual_budget)
        checks.append(
            report.outcome(
                list(inputs),
                row.execution_rate == expected,
                f"{name}: 执行率 = {row.executed} / {row.annual_budget} × 100, truncated",
                expected,
                row.execution_rate,
            )
        )
    return checks


@error_rule
def check_funding_score(form: Form, report: Report) -> list[Check]:
    """Funding 得分 = 分数 × 执行数 / 预算数, rounded half-up, never above 分数 (total row only)."""
    row = form.funding.total
    inputs = {
        funding_path("total", "weight"): row.weight,
        funding_path("total", "annual_budget"): row.annual_budget,
        funding_path("total", "executed"): row.executed,
        funding_path("total", "score"): row.score,
    }
    if missing := _missing(inputs):
        return [report.skipped(list(inputs), missing)]
    assert row.weight is not None and row.executed is not None and row.annual_budget is not None
    expected = funding_score(row.weight, row.executed, row.annual_budget)
    return [
        report.outcome(
            list(inputs),
            row.score == expected,
            f"得分 = {row.weight} × {row.executed} / {row.annual_budget}, rounded half-up, ≤ 分数",
            expected,
            row.score,
        )
    ]


@error_rule
def check_funding_rows_add_up(form: Form, report: Report) -> list[Check]:
    """当年财政拨款 + 上年结转资金 + 其他资金 = 年度资金总额, in each amount column."""
    checks = []
    for column in AMOUNT_COLUMNS:
        parts = {funding_path(name, column): getattr(_row(form, name), column) for name in FUNDING_SUB_ROWS}
        total_path = funding_path("total", column)
        inputs = {total_path: getattr(form.funding.total, column), **parts}
        if missing := _missing(inputs):
            checks.append(report.skipped(list(inputs), missing))
            continue
        expected = sum(parts.values(), ZERO)
        checks.append(
            report.outcome(
                list(inputs),
                inputs[total_path] == expected,
                f"{column}: 当年财政拨款 + 上年结转资金 + 其他资金 = 年度资金总额",
                expected,
                inputs[total_path],
            )
        )
    return checks


def _weight_inputs(form: Form) -> dict[str, Decimal | None]:
    inputs: dict[str, Decimal | None] = {funding_path("total", "weight"): form.funding.total.weight}
    for index, indicator in enumerate(form.indicators):
        inputs[indicator_path(index, "weight")] = indicator.weight
    return inputs


@error_rule
def check_weights_sum_to_100(form: Form, report: Report) -> list[Check]:
    """分数 + Σ 分值 = 100."""
    inputs = _weight_inputs(form)
    if missing := _missing(inputs):
        return [report.skipped(list(inputs), missing)]
    total = sum((value for value in inputs.values() if value is not None), ZERO)
    return [
        report.outcome(
            list(inputs),
            total == HUNDRED,
            "funding 分数 + Σ indicator 分值 = 100",
            HUNDRED.quantize(CENT),
            total,
        )
    ]


@error_rule
def check_total_weight(form: Form, report: Report) -> list[Check]:
    """The 总分 row's printed 分值 equals 分数 + Σ 分值."""
    if form.total_weight is None:
        return []  # the 总分 row's weight is optional in a record; nothing printed, nothing to check
    inputs = _weight_inputs(form)
    if missing := _missing(inputs):
        return [report.skipped(["form.total_weight", *inputs], missing)]
    total = sum((value for value in inputs.values() if value is not None), ZERO)
    return [
        report.outcome(
            ["form.total_weight", *inputs],
            form.total_weight == total,
            "总分 row 分值 = 分数 + Σ 分值",
            total,
            form.total_weight,
        )
    ]


@error_rule
def check_indicator_score_within_weight(form: Form, report: Report) -> list[Check]:
    """0 ≤ 得分 ≤ 分值 for every indicator."""
    checks = []
    for index, indicator in enumerate(form.indicators):
        fields = [indicator_path(index, "weight"), indicator_path(index, "score")]
        if missing := _missing(dict(zip(fields, (indicator.weight, indicator.score), strict=True))):
            checks.append(report.skipped(fields, missing))
            continue
        assert indicator.weight is not None and indicator.score is not None
        checks.append(
            report.outcome(
                fields,
                ZERO <= indicator.score <= indicator.weight,
                f"{indicator.name}: 0 ≤ 得分 ≤ 分值",
                f"0..{indicator.weight}",
                indicator.score,
            )
        )
    return checks


@error_rule
def check_total_score(form: Form, report: Report) -> list[Check]:
    """总分 = funding 得分 + Σ indicator 得分."""
    inputs: dict[str, Decimal | None] = {funding_path("total", "score"): form.funding.total.score}
    for index, indicator in enumerate(form.indicators):
        inputs[indicator_path(index, "score")] = indicator.score
    fields = ["form.total_score", *inputs]
    if missing := _missing({"form.total_score": form.total_score, **inputs}):
        if form.total_score is not None and (bound := _total_score_bound(form, inputs, report)) is not None:
            return [bound]
        return [report.skipped(fields, missing)]
    expected = sum((value for value in inputs.values() if value is not None), ZERO)
    return [
        report.outcome(
            fields,
            form.total_score == expected,
            "总分 = funding 得分 + Σ indicator 得分",
            expected,
            form.total_score,
        )
    ]


def _total_score_bound(form: Form, scores: dict[str, Decimal | None], report: Report) -> Check | None:
    """With some 得分 unread, 总分 still lies between the 得分 that were read and that sum plus the
    unread ones' 分值 (each 得分 is at most its 分值, and all 分值 together are 100). A 总分 outside
    those bounds is wrong whatever the unread figures are: a failed check naming it, where a skipped
    one would leave the reviewer to find it. Inside them nothing is known (None: skipped)."""
    assert form.total_score is not None
    # Each 得分 with its row's 分值: both list the funding row first, then the indicators in order.
    weights = dict(zip(scores, _weight_inputs(form).values(), strict=True))
    read = sum((score for score in scores.values() if score is not None), ZERO)
    unread = [path for path, score in scores.items() if score is None]
    room = [weights[path] for path in unread]
    ceiling = HUNDRED
    if all(weight is not None for weight in room):
        ceiling = min(ceiling, read + sum((weight for weight in room if weight is not None), ZERO))
    if read <= form.total_score <= ceiling:
        return None
    ceiling = ceiling.quantize(CENT)
    return report.outcome(
        ["form.total_score", *scores],
        False,
        f"总分 = funding 得分 + Σ indicator 得分: with {', '.join(unread)} unread, 总分 lies in "
        f"{read}..{ceiling}",
        f"{read}..{ceiling}",
        form.total_score,
    )


@error_rule
def check_grade(form: Form, report: Report) -> list[Check]:
    """评分等级 follows the printed 总分: 优 ≥ 90, 良 ≥ 80, 中 ≥ 60, else 差."""
    fields = ["form.total_score", "form.grade"]
    if missing := _missing({"form.total_score": form.total_score, "form.grade": form.grade}):
        return [report.skipped(fields, missing)]
    assert form.total_score is not None and form.grade is not None
    expected = grade_for(form.total_score)
    return [
        report.outcome(
            fields,
            form.grade == expected,
            f"总分 {form.total_score} gives {expected.value}",
            expected.value,
            form.grade.value,
        )
    ]


# --- warnings: evaluation policy ----------------------------------------------------------------


@warning_rule
def check_default_weights(form: Form, report: Report) -> list[Check]:
    """Level-1 weights against the national defaults (产出 50, 效益 30, 满意度 10); units may adjust."""
    sums: dict[str, Decimal] = {}
    fields: list[str] = []
    for index, indicator in enumerate(form.indicators):
        if indicator.weight is not None:
            sums[indicator.level1] = sums.get(indicator.level1, ZERO) + indicator.weight
            fields.append(indicator_path(index, "weight"))
    found = {name: sums.get(name, ZERO) for name in DEFAULT_LEVEL1_WEIGHTS}
    holds = found == DEFAULT_LEVEL1_WEIGHTS
    describe = "; ".join(f"{name} {value}" for name, value in found.items())
    expected = "; ".join(f"{name} {value}" for name, value in DEFAULT_LEVEL1_WEIGHTS.items())
    return [
        report.outcome(
            fields,
            holds,
            "level-1 weights follow the defaults" if holds else "level-1 weights depart from the defaults",
            expected,
            describe,
        )
    ]


@warning_rule
def check_quantitative_score(form: Form, report: Report) -> list[Check]:
    """A met quantitative target earns the full 分值; a missed one about 完成值/指标值 × 分值."""
    checks = []
    for index, indicator in enumerate(form.indicators):
        target, actual = indicator.target_measure, indicator.actual_measure
        if target is None or actual is None or not target.is_quantitative:
            continue
        fields = [indicator_path(index, column) for column in ("target", "actual", "weight", "score")]
        mismatch = None
        if not actual.is_quantitative:
            mismatch = (
                f"{indicator.name}: numeric target {target.text!r} but actual {actual.text!r}",
                None,
                None,
            )
        elif target.unit and actual.unit and target.unit != actual.unit:
            message = f"{indicator.name}: target unit {target.unit} ≠ actual unit {actual.unit}"
            mismatch = (message, target.unit, actual.unit)
        if mismatch is not None:
            checks.append(report.outcome(fields, False, *mismatch))
            continue
        if missing := _missing(dict(zip(fields[2:], (indicator.weight, indicator.score), strict=True))):
            checks.append(report.skipped(fields, missing))
            continue
        assert actual.value is not None and indicator.weight is not None
        met = target_met(target, actual.value)
        expected = (
            indicator.weight
            if met
            else proportional_score(target, actual.value, indicator.weight, is_reverse(target))
        )
        checks.append(
            report.outcome(
                fields,
                indicator.score == expected,
                f"{indicator.name}: target {'met' if met else 'missed'} "
                f"({actual.value} against {target.text})",
                expected,
                indicator.score,
            )
        )
    return checks


@warning_rule
def check_qualitative_score(form: Form, report: Report) -> list[Check]:
    """达成 earns 80–100 % of 分值, 部分达成 60–80 %, 未达成 below 60 %."""
    checks = []
    for index, indicator in enumerate(form.indicators):
        outcome = achievement_of(indicator.actual_measure)
        if outcome is None:
            continue
        fields = [indicator_path(index, column) for column in ("actual", "weight", "score")]
        if missing := _missing(dict(zip(fields[1:], (indicator.weight, indicator.score), strict=True))):
            checks.append(report.skipped(fields, missing))
            continue
        assert indicator.weight is not None and indicator.score is not None
        low, high = ACHIEVEMENT_SHARE[outcome]
        share = indicator.score / indicator.weight if indicator.weight else ZERO
        holds = low <= share <= high if outcome is Achievement.achieved else low <= share < high
        checks.append(
            report.outcome(
                fields,
                holds,
                f"{indicator.name}: {outcome.value} earns {low * HUNDRED:.0f}–{high * HUNDRED:.0f} % of 分值",
                f"{(low * indicator.weight).quantize(CENT)}..{(high * indicator.weight).quantize(CENT)}",
                indicator.score,
            )
        )
    return checks


@warning_rule
def check_deviation_reason(form: Form, report: Report) -> list[Check]:
    """得分 < 分值 needs a 偏差原因分析及改进措施."""
    checks = []
    for index, indicator in enumerate(form.indicators):
        if indicator.score is None or indicator.weight is None or indicator.score >= indicator.weight:
            continue
        has_reason = bool(indicator.deviation_reason and indicator.deviation_reason.strip())
        checks.append(
            report.outcome(
                [indicator_path(index, c) for c in ("weight", "score", "deviation_reason")],
                has_reason,
                f"{indicator.name}: 得分 below 分值 "
                + ("is explained" if has_reason else "without 偏差原因分析及改进措施"),
            )
        )
    return checks


@warning_rule
def check_execution_rate_over_100(form: Form, report: Report) -> list[Check]:
    """执行率 above 100 % is unusual."""
    rate = form.funding.total.execution_rate
    if rate is None:
        return []
    return [
        report.outcome(
            [funding_path("total", "execution_rate")],
            rate <= HUNDRED,
            "执行率 at most 100 %" if rate <= HUNDRED else "执行率 above 100 % is unusual",
            "≤ 100.00",
            rate,
        )
    ]


RULES: tuple[Rule, ...] = tuple(_REGISTRY)
ERROR_RULES = tuple(rule for rule in RULES if rule.severity is Severity.error)
WARNING_RULES = tuple(rule for rule in RULES if rule.severity is Severity.warning)
RULE_NAMES = frozenset(rule.name for rule in RULES)


def run_rules(form: Form, rules: Iterable[Rule] = RULES) -> list[Check]:
    return [check for rule in rules for check in rule(form)]
