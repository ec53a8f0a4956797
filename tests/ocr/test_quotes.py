"""Which readings of a line get a second opinion: those whose quotation marks cannot pair up."""

from __future__ import annotations

import pytest

from services.ocr.recognise import quotes_clash

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "text",
    [
        "“长三角‘一体化’科创云平台”的基础上进行升级",  # nested, as printed
        "路”沿线国家间的科技创新合作，创造“引进来与",  # closes an earlier line's, opens one
        "上海-“一带一路”沿线",
        "’的基础上",  # a lone closing mark: opened on an earlier line
        "围绕“科创中心",  # left open for the next line
        "no quotes at all 123",
    ],
)
def test_marks_that_can_pair_up_across_lines_are_accepted(text: str) -> None:
    assert not quotes_clash(text)


@pytest.mark.parametrize(
    "text",
    [
        "“长三角一体化’科创云平台”",  # ‘ dropped: ’ closes a “
        "“长三角“一体化科创云平台”",  # ‘ read as “: opened twice
        "‘甲‘乙",
        "“甲’乙”",
    ],
)
def test_marks_that_cannot_be_right_are_caught(text: str) -> None:
    assert quotes_clash(text)
