"""Text normalisation that keeps meaning.

Chinese text: simplified characters (the forms are printed in them; a traditional one is the recogniser
taking a 级 for 級 in a 楷体 or 宋体 face), no spaces (OCR and PDF extractors put them between characters
and digits), half-width operators and digits. Numeric cells: OCR confusions of letters for digits are
repaired only there, never in prose, and the raw text is always kept beside the value by the caller.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import opencc

from selfeval.contract.figures import (
    OPERATOR_CHARS,
    UNSIGNED_NUMBER,
    WHOLE_NUMBER,
    with_contract_operators,
)

_CJK = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef“”‘’、。，；：！？（）《》【】"
_SPACE_NEAR_CJK = re.compile(rf"\s+(?=[{_CJK}{OPERATOR_CHARS}])|(?<=[{_CJK}{OPERATOR_CHARS}])\s+")
# NFKC would turn full-width CJK punctuation into ASCII (and … into ...); these stay as printed.
_KEEP_FULL_WIDTH = set("，；：！？（）…")

# Inside a numeric cell only: letters OCR reads for digits.
_DIGIT_LOOKALIKES = str.maketrans(
    {
        "O": "0",
        "o": "0",
        "D": "0",
        "Q": "0",
        "l": "1",
        "I": "1",
        "|": "1",
        "i": "1",
        "S": "5",
        "s": "5",
        "B": "8",
        "Z": "2",
        "z": "2",
        "，": ",",
        "。": ".",
        "·": ".",
        "、": ",",
        ":": ".",
        "：": ".",
    }
)
# A lone dash, as printed for "-" cells, and the glyphs OCR reads it as.
_DASHES = {"-", "－", "—", "–", "一", "二", "_", "~", "、", "·", ".", "一一", "--"}
_AMOUNT = re.compile(UNSIGNED_NUMBER)
_TWO_DECIMALS = re.compile(rf"{WHOLE_NUMBER}\.\d{{2}}")
_DECIMAL_COMMA = re.compile(rf"{WHOLE_NUMBER},\d{{2}}")
_THOUSANDS_POINTS = re.compile(r"\d{1,3}(?:\.\d{3})+\.\d{2}")
_LEADING_ZERO = re.compile(r"0\d")


_TO_SIMPLIFIED = opencc.OpenCC("t2s")


def simplified(text: str) -> str:
    """The text in simplified characters (OpenCC's traditional → simplified, by phrase and character)."""
    return _TO_SIMPLIFIED.convert(text)


def normalize_text(text: str) -> str:
    """Chinese prose as the record keeps it: simplified characters, no spaces beside CJK, half-width
    digits and operators, punctuation in one canonical width (see `canonical_punctuation`)."""
    chars = [c if c in _KEEP_FULL_WIDTH else unicodedata.normalize("NFKC", c) for c in simplified(text)]
    text = "".join(chars)
    # NFKC has made the full-width operators half-width; the other spellings remain.
    text = with_contract_operators(text)
    text = _SPACE_NEAR_CJK.sub("", text)
    return without_specks(canonical_punctuation(" ".join(text.split())))


# Marks a speck of scanner noise is read as. Chinese prose puts none of them beside a Chinese
# character (its full stop is 。, its dots ……), so there they are noise; between figures or Latin
# letters ("3.5", "www.gov.cn", "No.") they are print and stay.
_SPECKS = set(".·•`")
_OPENS_FIGURE = set(OPERATOR_CHARS + "(（+-")
_CLOSES_FIGURE = set(")）")


def without_specks(text: str) -> str:
    """Prose without the specks OCR reads beside Chinese text ("服务水·平", "达成指标.", ".按季度")."""
    out: list[str] = []
    for index, char in enumerate(text):
        if char in _SPECKS:
            before = out[-1] if out else ""
            after = text[index + 1] if index + 1 < len(text) else ""
            speck_before = not before or _is_chinese(before) or before in _CLOSES_FIGURE
            speck_after = not after or _is_chinese(after) or after in _OPENS_FIGURE
            if speck_before and speck_after and (before or after):
                continue
            if not before and after.isdigit() and (char != "." or "." in text[index + 2 :]):
                continue  # "·30.00(人)", ".33.82": a figure never starts with a point
        out.append(char)
    return "".join(out)


# Printed forms mix widths freely ("工作小组,目前" beside "成效，加强") and OCR cannot tell a
# full-width comma or bracket from a half-width one, so the record fixes one spelling: full width
# in Chinese text, half width in figures and measures ("=2(场)", "1,200.00").
_TO_FULL_WIDTH = {",": "，", ";": "；", ":": "：", "!": "！", "?": "？"}
_TO_HALF_WIDTH = {v: k for k, v in _TO_FULL_WIDTH.items()}
_DASHES_IN_TEXT = re.compile(r"[—–－―]+")


def _is_chinese(char: str) -> bool:
    return bool(char) and (
        "\u3400" <= char <= "\u9fff"
        or "\u3000" <= char <= "\u303f"
        or "\uff00" <= char <= "\uffef"
        or char in "“”‘’《》【】"
    )


def canonical_punctuation(text: str) -> str:
    """One spelling for punctuation OCR cannot tell apart by width (see the note above)."""
    text = _DASHES_IN_TEXT.sub("-", text)
    out: list[str] = []
    open_brackets: list[str] = []
    for index, char in enumerate(text):
        before = out[-1] if out else ""
        after = text[index + 1] if index + 1 < len(text) else ""
        if char in "(（":
            char = "（" if _is_chinese(before) else "("
            open_brackets.append(char)
        elif char in ")）":
            opening = open_brackets.pop() if open_brackets else ("（" if _is_chinese(before) else "(")
            char = "）" if opening == "（" else ")"
        elif char in _TO_FULL_WIDTH or char in _TO_HALF_WIDTH:
            half = _TO_HALF_WIDTH.get(char, char)
            between_figures = before.isdigit() and after.isdigit()
            char = (
                half
                if between_figures or not (_is_chinese(before) or _is_chinese(after))
                else _TO_FULL_WIDTH[half]
            )
        out.append(char)
    return "".join(out)


# A target or actual printed as figure(unit): a bracket closing the line is small and sits at the
# cell's edge, and a poor scan loses it. The whole cell has been read when this applies, so a unit
# still open at its end was closed in print.
_UNCLOSED_UNIT = re.compile(rf"[{OPERATOR_CHARS}]?[+-]?\d[\d.,]*\([^()]+")


def with_unit_closed(measure: str | None) -> str | None:
    """ "549.00(平方米" → "549.00(平方米)"; any other text as it is."""
    if measure and _UNCLOSED_UNIT.fullmatch(measure):
        return measure + ")"
    return measure


def ideographs(text: str) -> str:
    """Only the Chinese characters of a text. Every printed label of the form is Chinese characters
    alone, so what else OCR puts in a label cell (a seal speck read as "è", "(%)" read as "(00)")
    is not part of the label."""
    return "".join(
        c
        for c in unicodedata.normalize("NFKC", simplified(text))
        if unicodedata.name(c, "").startswith("CJK")
    )


@dataclass(frozen=True)
class NumericReading:
    """A numeric cell read: the value (None for a printed "-"), whether it is usable, and why not."""

    value: Decimal | None
    ok: bool
    repaired: bool = False
    problem: str | None = None


def read_number(raw: str) -> NumericReading:
    """Read an amount/rate/score cell: "3,900.00", "-" (None), OCR noise repaired where unambiguous.

    The forms print these figures unsigned: a sign read in front of a two-decimal figure is a speck like
    any other; in front of anything else it makes the reading unusable (never a negative figure).
    """
    text = "".join(unicodedata.normalize("NFKC", raw).split())
    if not text:
        return NumericReading(None, ok=False, problem="empty")
    if text in _DASHES:
        return NumericReading(None, ok=True)
    repaired_text = text.translate(_DIGIT_LOOKALIKES)
    if _DECIMAL_COMMA.fullmatch(repaired_text):
        # A thousands comma has three digits after it; before the last two digits a comma is the
        # decimal point (read as a comma when a speck touches it, or written so).
        repaired_text = repaired_text[:-3] + "." + repaired_text[-2:]
    elif _THOUSANDS_POINTS.fullmatch(repaired_text) and len(raw.split()) == 1:
        # A figure has one decimal point: before it, a point with three digits after it is a thousands
        # comma read as a point (at 150 dpi a comma's tail is a pixel or two: "3.900.00"). Read with a
        # gap inside, it may be two figures ("1.00 2.00"), and is left alone.
        repaired_text = repaired_text[:-3].replace(".", ",") + repaired_text[-3:]
    repaired = repaired_text != text
    if _LEADING_ZERO.match(repaired_text):
        # 97.17 read "07,17": a 9 too pale to read surely is no 0, and no figure prints one there.
        return NumericReading(
            None, ok=False, problem=f"not a number (a figure never starts 0 before a digit): {raw!r}"
        )
    if _AMOUNT.fullmatch(repaired_text):
        return NumericReading(_decimal(repaired_text), ok=True, repaired=repaired)
    # Specks read as punctuation around a printed two-decimal figure (".155.77", "155.77'"): keep the
    # figure when it is the only one in the cell.
    figures = _TWO_DECIMALS.findall(repaired_text)
    leftover = _TWO_DECIMALS.sub("", repaired_text)
    if len(figures) == 1 and not any(c.isalnum() for c in leftover) and not _LEADING_ZERO.match(figures[0]):
        return NumericReading(_decimal(figures[0]), ok=True, repaired=True)
    return NumericReading(None, ok=False, problem=f"not a number: {raw!r}")


def is_two_decimal_figure(raw: str) -> bool:
    """Whether a reading is a figure exactly as the forms print amounts and scores: "1,234.56"."""
    return bool(_TWO_DECIMALS.fullmatch("".join(unicodedata.normalize("NFKC", raw).split())))


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - callers pass pattern-checked text
        return None
