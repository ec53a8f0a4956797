"""Which fields are boxed on a page, in which colour, and what a kept page image may be."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from selfeval.contract import Check, CheckStatus, FieldLocation, Record, Severity
from selfeval.page_boxes import DOUBTFUL, FAILING, Mark, draw_marks, marks_for
from services.ocr.page_images import MAX_PAGE_IMAGE_SIDE, page_png
from tests.conftest import REAL_FORMS, load_fixture

pytestmark = pytest.mark.unit

TOTAL = FieldLocation(page=2, box=(0.6, 0.1, 0.7, 0.12))
NAME = FieldLocation(page=1, box=(0.2, 0.1, 0.8, 0.12))
GRADE = FieldLocation(page=2, box=(0.2, 0.13, 0.9, 0.15))


def a_record() -> Record:
    record = Record(form=load_fixture(REAL_FORMS[1]).form)
    record.checks = [
        Check(rule="total_score", severity=Severity.error, status=CheckStatus.failed, message="off",
              fields=["form.total_score", "form.indicators"]),
        Check(rule="grade", severity=Severity.error, status=CheckStatus.passed, message="ok",
              fields=["form.total_score", "form.grade"]),
    ]  # fmt: skip
    record.provenance.field_locations = {
        "form.total_score": TOTAL,
        "form.project_name": NAME,
        "form.grade": GRADE,
    }
    record.provenance.field_confidence = {
        "form.total_score": 0.4,
        "form.project_name": 0.5,
        "form.grade": 0.99,
    }
    return record


def test_failing_fields_are_red_doubtful_ones_amber_and_only_those_of_the_page() -> None:
    record = a_record()
    # The total fails and is doubtful: red only. The grade passes and was read surely: not drawn.
    assert marks_for([record], 2, 0.8) == [Mark(TOTAL.box, FAILING)]
    assert marks_for([record], 1, 0.8) == [Mark(NAME.box, DOUBTFUL)]
    assert marks_for([record], 3, 0.8) == []
    assert marks_for([record], 1, 0.3) == []  # 0.5 is sure enough when the minimum is 0.3


def test_a_value_a_reviewer_typed_is_not_boxed_for_the_ocr_doubt_about_the_old_one() -> None:
    from datetime import UTC, datetime

    from selfeval.contract.record import Correction

    record = a_record()
    record.provenance.corrections = [
        Correction(
            path="form.project_name", old="x", new="y", reviewer="alice", at=datetime.now(UTC), version=2
        )
    ]
    assert marks_for([record], 1, 0.8) == []
    assert record.provenance.reading_confidence("form.project_name") is None
    assert record.provenance.reading_confidence("form.total_score") == 0.4


def test_a_box_is_drawn_where_its_fractions_put_it() -> None:
    page = Image.new("L", (1000, 2000), 255)
    buffer = io.BytesIO()
    page.save(buffer, format="PNG")
    drawn = Image.open(io.BytesIO(draw_marks(buffer.getvalue(), [Mark(TOTAL.box, FAILING)]))).convert("RGB")
    assert drawn.size == (1000, 2000)
    assert drawn.getpixel((599, 220)) == FAILING  # the left edge, just outside x0 = 0.6
    assert drawn.getpixel((650, 220)) != (255, 255, 255)  # tinted inside
    assert drawn.getpixel((100, 100)) == (255, 255, 255)


def test_what_is_not_a_kept_page_image_is_refused() -> None:
    with pytest.raises(ValueError):
        draw_marks(b"not a png", [])
    huge = io.BytesIO()
    Image.new("L", (5000, 5000), 255).save(huge, format="PNG")
    with pytest.raises(ValueError):
        draw_marks(huge.getvalue(), [])


@pytest.mark.parametrize(
    ("shape", "dpi", "expected"),
    [
        ((2339, 1654), 200, (1754, 1240)),  # A4 at 200 dpi → 150 dpi
        ((1754, 1240), 150, (1754, 1240)),  # already 150 dpi: as it is
        ((1169, 827), 100, (1169, 827)),  # never scaled up
        ((9000, 6000), 150, (MAX_PAGE_IMAGE_SIDE, 1733)),  # a poster: bounded whatever its dpi
    ],
    ids=["200dpi", "150dpi", "100dpi", "poster"],
)
def test_kept_pages_are_grey_png_of_at_most_150_dpi_and_bounded(
    shape: tuple[int, int], dpi: int, expected: tuple[int, int]
) -> None:
    grey = np.full(shape, 255, np.uint8)
    image = Image.open(io.BytesIO(page_png(grey, dpi)))
    assert image.format == "PNG" and image.mode == "L"
    assert (image.height, image.width) == pytest.approx(expected, abs=1)
