"""A figure read with doubt is put to a vote: the same model on a sharpened crop and a second model on
the crop as it is. Two agreeing readings of a two-decimal figure outvote the first; else it stands."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from services.ocr import OcrEngine
from services.ocr.figure_votes import VOTE_BELOW, outvoting, sharpened, wants_vote
from services.ocr.recognise import to_model_input

CROPS = Path(__file__).parents[1] / "fixtures" / "crops"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "confidence", "asked"),
    [
        ("77.32", 0.94, True),
        ("3.m", 0.96, True),  # a blurred 00 read as a letter
        ("77.32", 0.999, False),  # read surely: office print
        ("达成指标", 0.5, False),  # no figure
        ("≥90.00(百分比)", 0.9, False),  # a measure, not a figure cell's reading
        ("1234567890.123", 0.5, False),  # too long for a figure of the forms
    ],
)
def test_doubtful_figure_like_readings_are_put_to_the_vote(text: str, confidence: float, asked: bool) -> None:
    assert wants_vote(text, confidence) is asked
    assert VOTE_BELOW < 1


@pytest.mark.unit
@pytest.mark.parametrize(
    ("first", "again", "second", "outvoted"),
    [
        ("77.32", "777.32", "777.32", True),
        ("3,000.00", "3,900.00", "3900.00", True),  # separators aside, the same figure
        ("77.32", "777.32", "77.32", False),  # one of the two sides with the first
        ("77.32", "777.32", "717.32", False),  # the two others disagree
        ("3.m", "3.0", "3.0", False),  # agreeing, but not a figure as the forms print one
        ("10.00", "10.00", "10.00", False),  # nothing to change
    ],
)
def test_two_agreeing_readings_of_a_figure_outvote_the_first(
    first: str, again: str, second: str, outvoted: bool
) -> None:
    assert outvoting(first, again, second) is outvoted


@pytest.mark.unit
def test_sharpening_darkens_faded_print_and_leaves_paper_white() -> None:
    crop = np.full((30, 60), 255, np.uint8)
    crop[10:20, 10:50] = 150  # faded print
    sharp = sharpened(crop)
    assert sharp.shape == crop.shape and sharp.dtype == np.uint8
    assert sharp[15, 30] < 60 and sharp[2, 2] == 255
    assert np.array_equal(sharpened(np.full((30, 60), 250, np.uint8)), np.full((30, 60), 250, np.uint8))


@pytest.mark.parametrize(
    ("name", "first_read", "figure"), [("777.32", "77.32", "777.32"), ("3900.00", "3000.00", "3900.00")]
)
def test_a_figure_misread_on_a_poor_scan_is_outvoted(
    engine: OcrEngine, name: str, first_read: str, figure: str
) -> None:
    """Crops of a poor 仿宋 grey scan (150 dpi, blurred): the line reader alone reads them wrong with
    doubt; the sharpened crop and PP-OCRv4 agree on the printed figure."""
    crop = cv2.imread(str(CROPS / f"poor-fangsong-{name}.png"), cv2.IMREAD_GRAYSCALE)
    recogniser = engine.recogniser
    (alone,) = recogniser._read_inputs([to_model_input(crop)])
    assert alone.text == first_read and alone.confidence < VOTE_BELOW
    (voted,) = recogniser.read([crop])
    assert voted.text == figure
