"""Hostile and bad submissions, each built cheaply in memory (no 900-megapixel buffers, no 1000-page
render), shared by the in-process tests and the system test."""

from __future__ import annotations

import io
import struct
import zlib
from functools import lru_cache

import numpy as np
import pypdfium2 as pdfium
from PIL import Image, ImageDraw

from scangen import load_font, scan_forms
from selfeval.contract import Form
from tests.conftest import REAL_FORMS, load_fixture

A4_200DPI = (1654, 2339)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(width: int = 30_000, height: int = 30_000) -> bytes:
    """A PNG whose header claims width×height RGB pixels, with a token IDAT: huge only on paper."""
    header = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return (
        b"\x89PNG\r\n\x1a\n"
        + header
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + _png_chunk(b"IEND", b"")
    )


def png_decompression_bomb(side: int = 30_000) -> bytes:
    """A complete, valid 1-bit PNG of side×side white pixels: ~100 kB that inflates to ~110 MB of rows
    and 900 MP once decoded. The rows are compressed one at a time, never held together."""
    row = b"\x00" + b"\xff" * ((side + 7) // 8)  # filter byte 0, then all-white bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def pdf_with_pages(count: int, size: tuple[int, int] = (595, 842)) -> bytes:
    """An empty PDF with `count` blank pages, A4 unless `size` (points) says otherwise."""
    pdf = pdfium.PdfDocument.new()
    for _ in range(count):
        pdf.new_page(*size)
    buffer = io.BytesIO()
    pdf.save(buffer)
    pdf.close()
    return buffer.getvalue()


def corrupted_pdf() -> bytes:
    """A PDF header followed by noise: no objects, no cross-reference table, no trailer."""
    noise = np.random.default_rng(7).integers(0, 256, 20_000, dtype=np.uint8).tobytes()
    return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + noise


def encrypted_pdf() -> bytes:
    """A PDF protected by the standard security handler (a user password is needed to open it)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        b"<< /Filter /Standard /V 1 /R 2 /Length 40 /P -4 /O <"
        + b"11" * 32
        + b"> /U <"
        + b"22" * 32
        + b"> >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += (
        b"trailer\n<< /Size 5 /Root 1 0 R /Encrypt 4 0 R /ID [<"
        + b"ab" * 16
        + b"> <"
        + b"ab" * 16
        + b">] >>\n"
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def tiff_with_frames(count: int) -> bytes:
    frames = [Image.new("L", (16, 16), 255) for _ in range(count)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "TIFF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def tiff_with_looping_frames() -> bytes:
    """A one-pixel TIFF whose 'next frame' pointer points back at its own frame: an endless chain."""
    ifd_offset = 10
    tags = [(256, 3, 1, 1), (257, 3, 1, 1), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1)]
    tags += [(273, 4, 1, 8), (277, 3, 1, 1), (278, 3, 1, 1), (279, 4, 1, 1)]  # strip at 8, 1 byte
    ifd = struct.pack("<H", len(tags)) + b"".join(struct.pack("<HHII", *tag) for tag in tags)
    return b"II*\x00" + struct.pack("<I", ifd_offset) + b"\xff\x00" + ifd + struct.pack("<I", ifd_offset)


def png_of(image: Image.Image, dpi: int = 200) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", dpi=(dpi, dpi))
    return buffer.getvalue()


def photo_like_noise() -> bytes:
    """Smooth colour noise, like an out-of-focus photo: no lines, no text."""
    small = np.random.default_rng(3).integers(0, 256, (40, 28, 3), dtype=np.uint8)
    return png_of(Image.fromarray(small).resize(A4_200DPI, Image.Resampling.BICUBIC))


def blank_page() -> bytes:
    return png_of(Image.new("L", A4_200DPI, 255))


def invoice_table() -> bytes:
    """A ruled table of Chinese text and amounts that is an invoice, not a 绩效自评表."""
    image = Image.new("L", A4_200DPI, 255)
    draw = ImageDraw.Draw(image)
    draw.text((500, 160), "增值税普通发票", font=load_font("noto-sans", 64), fill=0)
    font = load_font("noto-sans", 34)
    rows = [
        ("货物或应税劳务名称", "数量", "单价", "金额"),
        ("办公用纸", "20", "25.00", "500.00"),
        ("打印机硒鼓", "4", "380.00", "1520.00"),
        ("文件柜", "2", "960.00", "1920.00"),
        ("合计", "", "", "3940.00"),
    ]
    left, top, widths, height = 150, 360, (560, 220, 260, 300), 90
    for r, row in enumerate(rows):
        x = left
        for width, text in zip(widths, row, strict=True):
            draw.rectangle((x, top + r * height, x + width, top + (r + 1) * height), outline=0, width=3)
            draw.text((x + 20, top + r * height + 25), text, font=font, fill=0)
            x += width
    return png_of(image)


@lru_cache
def form(name: str = "form_02") -> Form:
    """A one-page real form (form_02 fits on one page)."""
    path = next(path for path in REAL_FORMS if path.stem == name)
    return load_fixture(path).form


@lru_cache
def office_scan(name: str = "form_02", seed: int = 5) -> Image.Image:
    (page,) = scan_forms([form(name)], quality="office", dpi=200, seed=seed, classic=True)
    return page.image.convert("RGB")


def rotated_scan(degrees: int) -> bytes:
    """The office-quality scan turned counter-clockwise by `degrees` (the page grows to fit)."""
    return png_of(office_scan().rotate(degrees, expand=True))


def scan_pdf(seed: int = 5) -> bytes:
    """The office-quality scan as an image-only PDF."""
    buffer = io.BytesIO()
    office_scan(seed=seed).save(buffer, "PDF", resolution=200.0)
    return buffer.getvalue()


def truncated_pdf() -> bytes:
    data = scan_pdf()
    return data[: len(data) // 2]
