"""The form's arithmetic: each figure's formula, in exactly one place, in `Decimal` only."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from selfeval.contract import Grade, Measure

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
ZERO = Decimal(0)


def execution_rate(executed: Decimal, annual_budget: Decimal) -> Decimal:
    """执行率 = 全年执行数 / 全年预算数 × 100, truncated to 2 decimals (155.77/180 → 86.53).

    0 when there is no budget.
    """
    if annual_budget == ZERO:
        return ZERO.quantize(CENT)
    return (executed / annual_budget * HUNDRED).quantize(CENT, rounding=ROUND_DOWN)


def funding_score(weight: Decimal, executed: Decimal, annual_budget: Decimal) -> Decimal:
    """Funding 得分 = 分数 × 全年执行数 / 全年预算数 from the exact ratio, rounded half-up, at most 分数."""
    if annual_budget == ZERO:
        return ZERO.quantize(CENT)
    score = (weight * executed / annual_budget).quantize(CENT, rounding=ROUND_HALF_UP)
    return min(score, weight.quantize(CENT))


def grade_for(total_score: Decimal) -> Grade:
    """评分等级: 优 ≥ 90; 80 ≤ 良 < 90; 60 ≤ 中 < 80; 差 < 60."""
    if total_score >= 90:
        return Grade.excellent
    if total_score >= 80:
        return Grade.good
    if total_score >= 60:
        return Grade.fair
    return Grade.poor


def proportional_score(target: Measure, actual_value: Decimal, weight: Decimal, reverse: bool) -> Decimal:
    """The score policy gives a missed quantitative target: about 完成值/指标值 × 分值 (inverted for ≤/<)."""
    assert target.value is not None
    numerator, denominator = (target.value, actual_value) if reverse else (actual_value, target.value)
    if denominator == ZERO:
        return weight if reverse else ZERO.quantize(CENT)
    return min(weight, weight * numerator / denominator).quantize(CENT, rounding=ROUND_HALF_UP)
