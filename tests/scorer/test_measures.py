from decimal import Decimal as D

import pytest

from selfeval.contract import Operator
from services.scorer.measures import Achievement, achievement_of, parse_measure, target_met

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "operator", "value", "unit"),
    [
        ("=2(场)", "=", "2", "场"),
        ("=1.00(场)", "=", "1.00", "场"),
        ("≥90.00(百分比)", "≥", "90.00", "百分比"),
        (">95.00(百分比)", ">", "95.00", "百分比"),
        (">95", ">", "95", None),
        ("≤5(天)", "≤", "5", "天"),
        ("<3", "<", "3", None),
        ("≥5(期)", "≥", "5", "期"),
        ("＞90（百分比）", ">", "90", "百分比"),  # full-width spellings
        (">= 90 %", "≥", "90", "%"),
        ("=549.00(平方米)", "=", "549.00", "平方米"),
        ("=1,200.00(元)", "=", "1200.00", "元"),
        ("2.00(场)", None, "2.00", "场"),
        ("95.00(百分比)", None, "95.00", "百分比"),
    ],
)
def test_quantitative_measures_keep_operator_value_and_unit(
    text: str, operator: str | None, value: str, unit: str | None
) -> None:
    measure = parse_measure(text)
    assert measure is not None and measure.is_quantitative
    assert measure.operator == (Operator(operator) if operator else None)
    assert measure.value == D(value) and str(measure.value) == value
    assert measure.unit == unit
    assert measure.text == text


@pytest.mark.parametrize(
    "text",
    [
        "控制在批复预算内",
        "合格",
        "及时",
        "达成指标",
        "系统并发量≥50",
        "1个月以内发放",
        "系统账号开通率≥90%",
        "2024年12月31日前完成系统运维。",
    ],
)
def test_text_targets_stay_text(text: str) -> None:
    measure = parse_measure(text)
    assert measure is not None
    assert not measure.is_quantitative and measure.operator is None and measure.text == text


def test_empty_cell_is_no_measure() -> None:
    assert parse_measure(None) is None
    assert parse_measure("  ") is None


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ("达成指标", Achievement.achieved),
        ("部分达成", Achievement.partly),
        ("未达成指标", Achievement.not_achieved),
        ("合格", None),
    ],
)
def test_achievement_reads_the_longest_outcome_first(text: str, outcome: Achievement | None) -> None:
    assert achievement_of(parse_measure(text)) is outcome


@pytest.mark.parametrize(
    ("target", "actual", "met"),
    [
        ("=2(场)", "2", True),
        ("=2(场)", "3", True),
        ("=2(场)", "1.99", False),
        (">90", "90", False),
        (">90", "90.01", True),
        ("≥90", "90", True),
        ("≤5", "5", True),
        ("≤5", "5.01", False),
        ("<5", "5", False),
        ("95", "95", True),
    ],
)
def test_target_met_by_operator(target: str, actual: str, met: bool) -> None:
    measure = parse_measure(target)
    assert measure is not None
    assert target_met(measure, D(actual)) is met
