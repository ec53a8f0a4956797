"""A scan file judged complete or cut short by its own structure, for every type selfeval reads."""

from __future__ import annotations

import io
import struct
from functools import lru_cache
from pathlib import Path

import pytest
from PIL import Image

from selfeval.scan_files import looks_complete

pytestmark = pytest.mark.unit

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@lru_cache
def scans() -> dict[str, bytes]:
    jpeg = (SAMPLES / "form_03.jpg").read_bytes()
    image = Image.open(io.BytesIO(jpeg))
    made = {"pdf": (SAMPLES / "forms_01_02.pdf").read_bytes(), "jpeg": jpeg}
    made["tiff"] = (SAMPLES / "form_05.tiff").read_bytes()
    for kind, options in {
        "png": {"format": "PNG"},
        "progressive-jpeg": {"format": "JPEG", "progressive": True, "quality": 70},
        "jpeg-with-exif-thumbnail": {"format": "JPEG", "exif": _exif_with_thumbnail(image)},
        "multipage-deflate-tiff": {
            "format": "TIFF",
            "save_all": True,
            "append_images": [image.rotate(90, expand=True)],
            "compression": "tiff_deflate",
        },
    }.items():
        out = io.BytesIO()
        image.save(out, **options)
        made[kind] = out.getvalue()
    made["big-endian-tiff"] = big_endian_tiff()
    return made


def _exif_with_thumbnail(image: Image.Image) -> bytes:
    """EXIF carrying a JPEG thumbnail, whose own end-of-image marker sits early in the file."""
    thumbnail = io.BytesIO()
    image.resize((160, 120)).save(thumbnail, format="JPEG")
    exif = Image.Exif()
    exif[0x010F] = "scanner"
    data = bytearray(exif.tobytes())
    return bytes(data) + thumbnail.getvalue()


def big_endian_tiff(width: int = 64, height: int = 48) -> bytes:
    """A grey big-endian ("MM") TIFF in four strips, written by hand: Pillow writes little-endian only."""
    strips = [bytes([n * 40]) * (width * height // 4) for n in range(4)]
    entries = 9
    ifd_at = 8
    data_at = ifd_at + 2 + 12 * entries + 4 + 4 * 4 * 2
    offsets = [data_at + sum(len(s) for s in strips[:n]) for n in range(4)]
    arrays_at = ifd_at + 2 + 12 * entries + 4

    def entry(tag: int, kind: int, count: int, value: int) -> bytes:
        packed = struct.pack(">H", value) + b"\0\0" if kind == 3 and count == 1 else struct.pack(">I", value)
        return struct.pack(">HHI", tag, kind, count) + packed

    ifd = struct.pack(">H", entries) + b"".join(
        [
            entry(256, 3, 1, width),
            entry(257, 3, 1, height),
            entry(258, 3, 1, 8),
            entry(259, 3, 1, 1),
            entry(262, 3, 1, 1),
            entry(273, 4, 4, arrays_at),
            entry(277, 3, 1, 1),
            entry(278, 3, 1, height // 4),
            entry(279, 4, 4, arrays_at + 16),
        ]
    )
    arrays = struct.pack(">4I", *offsets) + struct.pack(">4I", *(len(s) for s in strips))
    return b"MM\0*" + struct.pack(">I", ifd_at) + ifd + b"\0\0\0\0" + arrays + b"".join(strips)


@pytest.mark.parametrize(
    "kind",
    [
        "pdf",
        "jpeg",
        "tiff",
        "png",
        "progressive-jpeg",
        "jpeg-with-exif-thumbnail",
        "multipage-deflate-tiff",
        "big-endian-tiff",
    ],
)
def test_a_whole_file_is_complete_and_every_cut_of_it_is_not(kind: str) -> None:
    data = scans()[kind]
    assert looks_complete(data) is True
    cuts = sorted(
        {*range(16, len(data), max(1, len(data) // 97)), len(data) - 1, len(data) - 2, len(data) // 2}
    )
    # Only a cut that drops nothing but trailing padding (which nothing in the file points at) may pass.
    complete_cuts = [cut for cut in cuts if looks_complete(data[:cut]) and data[cut:].strip(b"\x00")]
    assert complete_cuts == [], f"{kind}: cut at {complete_cuts[:5]} of {len(data)} looks complete"


def test_the_cases_are_what_they_say() -> None:
    made = scans()
    big_endian = Image.open(io.BytesIO(made["big-endian-tiff"]))
    big_endian.load()  # a real TIFF, decodable
    assert big_endian.size == (64, 48)
    assert made["big-endian-tiff"][:2] == b"MM"
    assert Image.open(io.BytesIO(made["multipage-deflate-tiff"])).n_frames == 2
    thumbnail_end = made["jpeg-with-exif-thumbnail"].find(b"\xff\xd9")
    assert 0 < thumbnail_end < 20_000  # the thumbnail's end-of-image marker, long before the real one


@pytest.mark.parametrize("data", [b"", b"hello", b"GIF89a" + b"\x00" * 100, b"PK\x03\x04 a zip"])
def test_a_file_of_another_type_cannot_be_judged(data: bytes) -> None:
    assert looks_complete(data) is None
