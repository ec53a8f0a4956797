"""How the forms write figures: the operators a target carries and the pattern of a number.

The parser normalises cells with these and the scorer reads measures with them, so both agree on what
counts as an operator and as a number.
"""

from __future__ import annotations

from selfeval.contract.record import Operator

# Every operator as the contract spells it (`Operator`), in one string for character classes.
OPERATOR_CHARS = "".join(operator.value for operator in Operator)

# Other spellings of the same operators that OCR and typists produce; NFKC does not map these.
OPERATOR_SPELLINGS = {">=": "≥", "<=": "≤", "≧": "≥", "≦": "≤", "⩾": "≥", "⩽": "≤"}

# The whole-number part of a figure: digits, or digits grouped by thousands separators (1,234,567).
WHOLE_NUMBER = r"(?:\d{1,3}(?:,\d{3})+|\d+)"
# A printed figure: the whole number, optional decimals. The forms print no sign on an amount, rate or
# score, so a sign read in front of one is noise (a seal's ring, a speck), never a negative figure.
UNSIGNED_NUMBER = rf"{WHOLE_NUMBER}(?:\.\d+)?"
# A figure as a target or measure may write it: an optional sign, then the figure.
NUMBER = rf"[+-]?{UNSIGNED_NUMBER}"


def with_contract_operators(text: str) -> str:
    """`text` with every other spelling of an operator replaced by the contract's."""
    for spelling, operator in OPERATOR_SPELLINGS.items():
        text = text.replace(spelling, operator)
    return text
