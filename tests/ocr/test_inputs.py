"""Bad submissions are rejected with a precise reason, before any page is decoded."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image

from services.ocr.inputs import InputRejected, open_document, sniff_type
from tests.hostile.badfiles import encrypted_pdf, pdf_with_pages

pytestmark = pytest.mark.unit


def png_bytes(width: int = 40, height: int = 30) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, "PNG")
    return buffer.getvalue()


def pdf_bytes(pages: int = 1) -> bytes:
    return pdf_with_pages(pages, size=(200, 300))  # small pages: quick to render, easy sizes to check


def bomb_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid PNG header claiming a huge image, with a tiny (truncated) body: never decoded."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    data = zlib.compress(b"\x00" * 1000)
    idat = struct.pack(">I", len(data)) + b"IDAT" + data + struct.pack(">I", zlib.crc32(b"IDAT" + data))
    return b"\x89PNG\r\n\x1a\n" + ihdr + idat


def rejected(data: bytes, **limits: int) -> str:
    with pytest.raises(InputRejected) as caught:
        document = open_document(data, **limits)
        list(document.pages())
    return caught.value.reason


def test_empty_file_is_rejected() -> None:
    assert rejected(b"") == "the file is empty (0 bytes)"


def test_text_file_named_png_is_rejected_as_text() -> None:
    reason = rejected("项目名称,金额\n".encode())
    assert reason.startswith("unsupported file type (plain text)")


def test_zip_is_named_in_the_reason() -> None:
    assert "ZIP" in rejected(b"PK\x03\x04" + b"\x00" * 100)


def test_truncated_pdf_is_rejected() -> None:
    data = pdf_bytes()
    assert "broken or truncated" in rejected(data[: len(data) // 3])


def test_encrypted_pdf_is_rejected() -> None:
    assert "encrypted" in rejected(encrypted_pdf())


def test_pixel_bomb_is_rejected_before_decoding() -> None:
    reason = rejected(bomb_png(), max_pixels=60_000_000)
    assert "900,000,000 pixels; at most 60,000,000 are accepted" in reason


def test_image_over_pixel_limit_is_rejected_with_its_size() -> None:
    reason = rejected(bomb_png(3000, 3000), max_pixels=1_000_000)
    assert reason.startswith("page 1 is 3000×3000 = 9,000,000 pixels; at most 1,000,000 are accepted")


def test_pdf_page_over_pixel_limit_is_rejected() -> None:
    assert "pixels; at most 1,000 are accepted" in rejected(pdf_bytes(), max_pixels=1000)


def test_too_many_pages_is_rejected() -> None:
    assert rejected(pdf_bytes(4), max_pages=3) == "the file has 4 pages; at most 3 are accepted"


def test_too_many_tiff_frames_is_rejected() -> None:
    frames = [Image.new("L", (20, 20), 255) for _ in range(4)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "TIFF", save_all=True, append_images=frames[1:])
    assert rejected(buffer.getvalue(), max_pages=2) == "the file has 4 pages; at most 2 are accepted"


def test_truncated_png_is_rejected() -> None:
    noisy = Image.fromarray(np.random.default_rng(1).integers(0, 255, (200, 200, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    noisy.save(buffer, "PNG")
    assert "broken or truncated" in rejected(buffer.getvalue()[:3000])


def test_type_comes_from_bytes_not_name() -> None:
    assert sniff_type(pdf_bytes()) == "pdf"  # whatever the file was called
    assert sniff_type(png_bytes()) == "png"


def test_pdf_renders_at_requested_dpi() -> None:
    document = open_document(pdf_bytes(2), dpi=144)
    pages = list(document.pages())
    assert document.kind == "pdf" and len(pages) == 2
    image, dpi = pages[0]
    assert dpi == 144 and image.shape == (600, 400, 3)


def _dithered_page(width: int, height: int) -> Image.Image:
    """A 1-bit page as a scanner in black-and-white writes it: dithered light grey paper, a black bar."""
    grey = Image.new("L", (width, height), 235)
    grey.paste(0, (40, 60, width - 40, 66))
    return grey.convert("1")  # Floyd–Steinberg: the paper becomes a field of single dots


@pytest.mark.parametrize("dpi", [150, 200])
def test_a_black_and_white_scanned_pdf_is_read_pixel_for_pixel(dpi: int) -> None:
    page = _dithered_page(round(8.27 * dpi), round(11.69 * dpi))
    buffer = io.BytesIO()
    page.save(buffer, format="PDF", resolution=dpi)
    image, read_dpi = next(open_document(buffer.getvalue(), dpi=200).pages())
    # Rendered at any other scale the dots would be resampled into grey specks the clean-up cannot
    # tell from print; one for one, the page stays black and white, dot for dot.
    assert read_dpi == dpi and image.shape[:2] == (page.height, page.width)
    assert set(np.unique(image)) <= {0, 255}
    assert np.array_equal(image[:, :, 0] == 0, ~np.asarray(page))


def test_a_grey_scanned_pdf_is_rendered_at_the_reading_resolution() -> None:
    page = Image.new("L", (1240, 1754), 200)
    buffer = io.BytesIO()
    page.save(buffer, format="PDF", resolution=150)
    image, read_dpi = next(open_document(buffer.getvalue(), dpi=200).pages())
    assert read_dpi == 200 and abs(image.shape[1] - round(1240 * 200 / 150)) <= 1


def test_a_finer_black_and_white_scan_is_rendered_down_to_the_reading_resolution() -> None:
    page = _dithered_page(2480, 3508)  # 300 dpi
    buffer = io.BytesIO()
    page.save(buffer, format="PDF", resolution=300)
    image, read_dpi = next(open_document(buffer.getvalue(), dpi=200).pages())
    assert read_dpi == 200 and abs(image.shape[1] - 1654) <= 1


def test_a_black_and_white_scan_shown_turned_is_rendered_as_shown() -> None:
    page = _dithered_page(1654, 2339)
    buffer = io.BytesIO()
    page.save(buffer, format="PDF", resolution=200)
    pdf = pdfium.PdfDocument(buffer.getvalue())
    pdf[0].set_rotation(90)
    turned = io.BytesIO()
    pdf.save(turned)
    image, _ = next(open_document(turned.getvalue(), dpi=200).pages())
    assert image.shape[0] < image.shape[1]  # landscape, as the page is shown
