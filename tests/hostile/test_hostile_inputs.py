"""Hostile and bad submissions through the real chain (PaddleOCR included), in one process.

Each gets exactly one `rejected` record with a reason a submitter can act on, or is read correctly
where it is readable (a turned scan, a PDF named .png). Limits come from the settings defaults
(SELFEVAL_MAX_PAGES=50, SELFEVAL_MAX_PIXELS=60,000,000). The engine outlives every bad input: the
last test reads a good scan with the same engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from scangen.compare import field_differences
from selfeval.contract import Record, Status
from selfeval.contract.ocr import PageReader
from selfeval.in_process import process_bytes
from selfeval.settings import Settings
from services.ocr import InputRejected, OcrEngine
from services.ocr.inputs import open_document
from tests.hostile import badfiles

HUGE_PAGE = (
    "page 1 is 30000×30000 = 900,000,000 pixels; at most 60,000,000 are accepted (scan at a lower resolution)"
)
NOT_A_FORM = "not a 财政项目支出绩效自评表: no form title found on any page"


def process(engine: PageReader, data: bytes, source: str) -> list[Record]:
    return process_bytes(engine, data, source, Settings().min_confidence, (InputRejected,))


def rejection(engine: PageReader, data: bytes, source: str = "inbox/bad") -> str:
    """The reason of the one record a bad submission gives (which must be a rejection)."""
    (record,) = process(engine, data, source)
    assert record.status == Status.rejected, record.reason
    assert record.reason
    assert record.submission.source == source
    return record.reason


@pytest.mark.unit
def test_the_limits_are_the_settings_defaults() -> None:
    fields = Settings.model_fields
    assert (fields["max_pages"].default, fields["max_pixels"].default) == (50, 60_000_000)


def test_zero_byte_file(engine: OcrEngine) -> None:
    assert rejection(engine, b"") == "the file is empty (0 bytes)"


def test_truncated_pdf(engine: OcrEngine) -> None:
    reason = rejection(engine, badfiles.truncated_pdf())
    assert reason.startswith("the PDF is broken or truncated and cannot be opened")


def test_corrupted_pdf(engine: OcrEngine) -> None:
    reason = rejection(engine, badfiles.corrupted_pdf())
    assert reason.startswith("the PDF is broken or truncated and cannot be opened")


def test_encrypted_pdf(engine: OcrEngine) -> None:
    assert rejection(engine, badfiles.encrypted_pdf()) == (
        "the PDF is encrypted (password-protected); send it without a password"
    )


def quickly(action: Callable[[], str], seconds: float) -> str:
    started = time.perf_counter()
    result = action()
    assert time.perf_counter() - started < seconds, "rejected too slowly: something was decoded"
    return result


def test_a_thousand_page_pdf_is_refused_by_the_page_limit_without_rasterising(engine: OcrEngine) -> None:
    data = badfiles.pdf_with_pages(1000)
    reason = quickly(lambda: rejection(engine, data), 1.0)
    assert reason == "the file has 1000 pages; at most 50 are accepted"


def test_a_30000_by_30000_image_is_refused_by_the_pixel_limit(engine: OcrEngine) -> None:
    reason = quickly(lambda: rejection(engine, badfiles.png_header_only(30_000, 30_000)), 1.0)
    assert reason == HUGE_PAGE


def test_png_decompression_bomb_is_refused_before_it_is_inflated(engine: OcrEngine) -> None:
    bomb = badfiles.png_decompression_bomb(30_000)
    assert len(bomb) < 1_000_000  # ~150 kB on disk, 900 MP decoded
    reason = quickly(lambda: rejection(engine, bomb), 1.0)
    assert reason == HUGE_PAGE


@pytest.mark.unit
def test_pixel_limit_follows_the_setting() -> None:
    with pytest.raises(InputRejected, match=r"page 1 is 3000×3000 = 9,000,000 pixels; at most 1,000,000"):
        open_document(badfiles.png_header_only(3000, 3000), max_pixels=1_000_000)


def test_tiff_with_hundreds_of_frames(engine: OcrEngine) -> None:
    reason = quickly(lambda: rejection(engine, badfiles.tiff_with_frames(300)), 2.0)
    assert reason == "the file has 300 pages; at most 50 are accepted"


@pytest.mark.unit
def test_tiff_whose_frame_chain_loops_is_read_once() -> None:
    document = open_document(badfiles.tiff_with_looping_frames())
    assert document.page_count == 1 and len(list(document.pages())) == 1


@pytest.mark.parametrize(
    "make",
    [badfiles.photo_like_noise, badfiles.blank_page, badfiles.invoice_table],
    ids=["photo", "blank", "invoice"],
)
def test_an_image_that_is_not_a_form_is_rejected(engine: OcrEngine, make: Callable[[], bytes]) -> None:
    assert rejection(engine, make(), "inbox/picture.png") == NOT_A_FORM


def assert_verified_form(records: list[Record]) -> None:
    (record,) = records
    assert record.status == Status.verified, record.reason
    assert field_differences(record.form, badfiles.form()) == []


@pytest.mark.parametrize("degrees", [180, 90, 270])
def test_a_turned_scan_is_read_upright_and_verifies(engine: OcrEngine, degrees: int) -> None:
    assert_verified_form(process(engine, badfiles.rotated_scan(degrees), f"inbox/turned-{degrees}.png"))


def test_a_pdf_named_png_is_read_as_the_pdf_it_is(engine: OcrEngine) -> None:
    """Also the last word on the engine: after every bad input above it still reads a good scan."""
    records = process(engine, badfiles.scan_pdf(), "inbox/scan.png")
    assert_verified_form(records)
    assert records[0].submission.source == "inbox/scan.png"
