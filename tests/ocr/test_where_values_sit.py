"""A real sample scan read by the OCR engine: the upright pages it hands back beside the tables, and the
place of every field of the record on them."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from selfeval.contract import Record
from selfeval.contract.ocr import SubmissionRead
from services.ocr import OcrEngine
from services.ocr.page_images import PAGE_IMAGE_DPI
from services.parser import parse_submission
from services.parser.reading import FormReading
from services.parser.submission import required_paths
from services.scorer import score_record

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).parents[2] / "samples" / "form_05.tiff"
"""科研基地服务与科技项目管理: one form over two pages"""


@pytest.fixture(scope="module")
def sample_read(engine: OcrEngine) -> SubmissionRead:
    return engine.read_with_images(SAMPLE.read_bytes(), source=SAMPLE.name)


@pytest.fixture(scope="module")
def sample_record(sample_read: SubmissionRead) -> Record:
    (record,) = parse_submission(sample_read.tables)
    return score_record(record)


def decoded(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def test_each_page_read_is_handed_back_upright_grey_and_at_most_150_dpi(sample_read: SubmissionRead) -> None:
    tables, images = sample_read.tables, sample_read.page_images
    assert [image.number for image in images] == [page.number for page in tables.pages] == [1, 2]
    for page, kept in zip(tables.pages, images, strict=True):
        image = decoded(kept.png)
        assert image.format == "PNG" and image.mode == "L"
        scale = min(1.0, PAGE_IMAGE_DPI / page.dpi)
        assert image.width == pytest.approx(page.width * scale, abs=1)
        assert image.height == pytest.approx(page.height * scale, abs=1)
        assert len(kept.png) < 2_000_000


def test_a_page_scanned_sideways_is_kept_the_way_it_was_read(engine: OcrEngine) -> None:
    first = cv2.imdecode(np.frombuffer(SAMPLE.read_bytes(), np.uint8), cv2.IMREAD_GRAYSCALE)
    sideways = np.ascontiguousarray(np.rot90(first))
    ok, png = cv2.imencode(".png", sideways)
    assert ok
    read = engine.read_with_images(png.tobytes(), source="sideways.png")
    (page,), (kept,) = read.tables.pages, read.page_images
    image = decoded(kept.png)
    assert page.height > page.width and image.height > image.width  # portrait, as the form is printed
    assert image.width / image.height == pytest.approx(page.width / page.height, abs=0.01)


def test_every_field_a_check_names_or_the_record_needs_has_a_place_on_a_page_of_the_form(
    sample_record: Record,
) -> None:
    named = {path for check in sample_record.checks for path in check.fields} - {"form.indicators"}
    needed = set(required_paths(FormReading(form=sample_record.form)))
    locations = sample_record.provenance.field_locations
    assert len(sample_record.form.indicators) >= 5
    for path in named | needed:
        assert path in locations, path
        location = locations[path]
        assert location.page in sample_record.submission.pages, path
        x0, y0, x1, y1 = location.box
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1, path


def test_the_total_score_sits_below_every_indicator_row(sample_record: Record) -> None:
    locations = sample_record.provenance.field_locations
    total = locations["form.total_score"]
    for index in range(len(sample_record.form.indicators)):
        score = locations[f"form.indicators[{index}].score"]
        assert (score.page, score.box[3]) <= (total.page, total.box[1] + 0.002), index
    # and the 得分 column: the total's box is under the indicators' scores, not beside them
    last = locations[f"form.indicators[{len(sample_record.form.indicators) - 1}].score"]
    assert total.box[0] < last.box[2] and last.box[0] < total.box[2]
