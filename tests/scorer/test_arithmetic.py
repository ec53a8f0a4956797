from decimal import Decimal as D

import pytest

from selfeval.contract import Grade, Measure, Operator
from services.scorer.arithmetic import execution_rate, funding_score, grade_for, proportional_score

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("executed", "budget", "rate"),
    [
        ("155.77", "180.00", "86.53"),  # 86.538… truncated, not rounded to 86.54
        ("179.90", "180.12", "99.87"),  # 99.877… truncated
        ("17.99", "18.00", "99.94"),
        ("777.32", "1900.00", "40.91"),
        ("1.50", "1.50", "100.00"),
        ("0.00", "0.00", "0.00"),  # no budget: 0
        ("12.00", "10.00", "120.00"),
    ],
)
def test_execution_rate_truncates_to_cents(executed: str, budget: str, rate: str) -> None:
    assert execution_rate(D(executed), D(budget)) == D(rate)
    assert str(execution_rate(D(executed), D(budget))) == rate


@pytest.mark.parametrize(
    ("executed", "budget", "score"),
    [
        ("179.90", "180.12", "9.99"),  # 9.9877… rounds half-up
        ("357.04", "358.90", "9.95"),  # 9.9481… rounds up (truncating would give 9.94)
        ("155.77", "180.00", "8.65"),
        ("448.57", "475.17", "9.44"),
        ("12.00", "10.00", "10.00"),  # never above 分数
        ("5.00", "0.00", "0.00"),
    ],
)
def test_funding_score_rounds_half_up_and_caps(executed: str, budget: str, score: str) -> None:
    assert funding_score(D("10.00"), D(executed), D(budget)) == D(score)


def test_funding_score_half_up_at_exact_half() -> None:
    # 10 × 1.2345 / 2 = 6.1725 → 6.17; 10 × 0.0009 / 0.2 = 0.045 → 0.05 (half-up, not banker's 0.04)
    assert funding_score(D("10"), D("0.0009"), D("0.2")) == D("0.05")


@pytest.mark.parametrize(
    ("total", "grade"),
    [
        ("100", "优"),
        ("90.00", "优"),
        ("89.99", "良"),
        ("80", "良"),
        ("79.99", "中"),
        ("60", "中"),
        ("59.99", "差"),
        ("0", "差"),
    ],
)
def test_grade_boundaries(total: str, grade: str) -> None:
    assert grade_for(D(total)) is Grade(grade)


def test_proportional_score_forward_and_reverse() -> None:
    target = Measure(text="=10(场)", operator=Operator.eq, value=D(10), unit="场")
    assert proportional_score(target, D(7), D("5.00"), reverse=False) == D("3.50")
    reverse = Measure(text="≤2(天)", operator=Operator.le, value=D(2), unit="天")
    assert proportional_score(reverse, D(4), D("6.00"), reverse=True) == D("3.00")
    assert proportional_score(target, D(0), D("5.00"), reverse=False) == D("0.00")
