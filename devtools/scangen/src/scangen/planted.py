"""A form with one arithmetic mistake planted, named by the rule that must catch it.

The mistakes are those of the planted fixtures (`tests/fixtures/planted/`), made on any form: a real one
or a random one. Each changes as little as a unit's slip would (a cent, a point, one grade), and where
the fixture lets the figures that follow from it follow (总分 after a 得分, 评分等级 after 总分), they
do, so one rule and no other is broken as printed.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from selfeval.contract.record import Form, Grade

from .variants import CENT, grade_for

POINT = Decimal("1.00")
TENTH = Decimal("0.10")


class Mistake(StrEnum):
    """The mistakes a form can carry, by the name of the rule that must catch each."""

    total_score = "total_score"  # 总分 printed a tenth off the sum of the 得分
    execution_rate = "execution_rate"  # the total row's 执行率 a cent off
    indicator_score_within_weight = "indicator_score_within_weight"  # a 得分 a point above its 分值
    grade = "grade"  # 评分等级 the grade next to the one 总分 gives
    funding_rows_add_up = "funding_rows_add_up"  # 当年财政拨款's 年初预算数 a point more than the total has
    weights_sum_to_100 = "weights_sum_to_100"  # the first 分值 a point more (and the 总分 row with it)
    funding_score = "funding_score"  # the funding 得分 a cent below the formula's


def plant(form: Form, mistake: Mistake) -> Form:
    """A copy of `form` (whose arithmetic holds) carrying `mistake`."""
    planted = form.model_copy(deep=True)
    funding, indicators = planted.funding, planted.indicators
    if mistake is Mistake.total_score:
        assert planted.total_score is not None
        # Off by a tenth the way that keeps the grade: only the sum is wrong.
        up = planted.total_score + TENTH
        planted.total_score = up if grade_for(up) == planted.grade else planted.total_score - TENTH
    elif mistake is Mistake.execution_rate:
        rate = funding.total.execution_rate
        assert rate is not None
        funding.total.execution_rate = rate - CENT if rate >= CENT else rate + CENT
    elif mistake is Mistake.indicator_score_within_weight:
        indicator = indicators[0]
        assert indicator.weight is not None and indicator.score is not None
        _add_to_score(planted, indicator.weight + POINT - indicator.score)
        indicator.score = indicator.weight + POINT
    elif mistake is Mistake.grade:
        planted.grade = _other_grade(planted.grade)
    elif mistake is Mistake.funding_rows_add_up:
        initial = funding.current_year_appropriation.initial_budget
        assert initial is not None
        funding.current_year_appropriation.initial_budget = initial + POINT
    elif mistake is Mistake.weights_sum_to_100:
        assert indicators[0].weight is not None
        indicators[0].weight += POINT
        if planted.total_weight is not None:
            planted.total_weight += POINT
    elif mistake is Mistake.funding_score:
        score = funding.total.score
        assert score is not None
        lowered = score - CENT if score >= CENT else score + CENT
        _add_to_score(planted, lowered - score)
        funding.total.score = lowered
    return planted


def _add_to_score(form: Form, change: Decimal) -> None:
    """总分 and 评分等级 follow a changed 得分, as a unit's own sum would."""
    assert form.total_score is not None
    form.total_score += change
    form.grade = grade_for(form.total_score)


def _other_grade(grade: Grade | None) -> Grade:
    order = list(Grade)
    index = order.index(grade) if grade is not None else 0
    return order[index + 1] if index + 1 < len(order) else order[index - 1]
