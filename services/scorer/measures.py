"""Reading 年度指标值 / 实际完成值 as structured measures.

`=2(场)` → operator "=", value 2, unit 场; `≥90.00(百分比)` → ≥, 90.00, 百分比; `95.00(百分比)` → no
operator; `控制在批复预算内` or `达成指标` → text only. A text that merely contains a number
(`系统并发量≥50`) stays text: only a whole-cell measure is quantitative.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from selfeval.contract import Measure, Operator
from selfeval.contract.figures import NUMBER, OPERATOR_CHARS, with_contract_operators

# Full-width forms of the operators and of a measure's punctuation (the parser's NFKC makes these
# half-width, but a record may come from elsewhere); other operator spellings are the contract's.
_FULL_WIDTH = {
    "＝": "=",
    "＞": ">",
    "＜": "<",
    "（": "(",
    "）": ")",
    "％": "%",
    "，": ",",
}

_MEASURE = re.compile(
    rf"""^(?P<op>[{OPERATOR_CHARS}])?
        (?P<num>{NUMBER})
        (?:\((?P<unit>[^()]*)\)|(?P<suffix>%|[^\d\s().,{OPERATOR_CHARS}]{{1,3}}))?$""",
    re.VERBOSE,
)


class Achievement(StrEnum):
    """How a qualitative actual reports the target: 达成 / 部分达成 / 未达成."""

    achieved = "达成"
    partly = "部分达成"
    not_achieved = "未达成"


def _canonical(text: str) -> str:
    text = "".join(text.split())
    for spelling, half_width in _FULL_WIDTH.items():
        text = text.replace(spelling, half_width)
    return with_contract_operators(text)


def parse_measure(text: str | None) -> Measure | None:
    """Read a target or actual cell; `None` for an empty cell."""
    if text is None or not text.strip():
        return None
    match = _MEASURE.match(_canonical(text))
    if match is None:
        return Measure(text=text)
    try:
        value = Decimal(match["num"].replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits
        return Measure(text=text)
    unit = match["unit"] if match["unit"] is not None else match["suffix"]
    operator = Operator(match["op"]) if match["op"] else None
    return Measure(text=text, operator=operator, value=value, unit=unit or None)


def achievement_of(measure: Measure | None) -> Achievement | None:
    """The qualitative outcome an actual states, if it states one (未达成 before 达成: it contains it)."""
    if measure is None or measure.is_quantitative:
        return None
    text = _canonical(measure.text)
    for outcome in (Achievement.not_achieved, Achievement.partly, Achievement.achieved):
        if outcome.value in text:
            return outcome
    return None


def target_met(target: Measure, actual_value: Decimal) -> bool:
    """Whether a quantitative actual satisfies its target's operator.

    `=` counts over-delivery as met (`=2(场)` with 3 场 held is not a miss); a target printed
    without an operator reads as "at least".
    """
    assert target.value is not None
    match target.operator:
        case Operator.gt:
            return actual_value > target.value
        case Operator.le:
            return actual_value <= target.value
        case Operator.lt:
            return actual_value < target.value
        case _:
            return actual_value >= target.value


def is_reverse(target: Measure) -> bool:
    """Reverse indicators (`≤`, `<`): smaller is better."""
    return target.operator in (Operator.le, Operator.lt)
