"""The scan files selfeval reads (PDF, PNG, JPEG, TIFF): recognised by their first bytes, and judged
complete or not by their own structure.

A file copied slowly into a watched folder can sit there half-written, unchanged, for as long as the
copy pauses. Every one of these formats says where it ends, so a truncated copy can be told from a
finished one without waiting: a PDF ends with `%%EOF`, a PNG with its IEND chunk, a JPEG with the EOI
marker after its scan data, and a TIFF's directories point only at bytes the file has.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

_MAGIC = {
    b"%PDF-": "application/pdf",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"II*\x00": "image/tiff",
    b"MM\x00*": "image/tiff",
}
PDF_TAIL = 1024
"""PDF readers look for the last `%%EOF` within the last kilobyte; so do we."""
MAX_TIFF_PAGES = 10_000


def sniff_content_type(head: bytes) -> str | None:
    """The content type of a scan from its first bytes (never its name), None when it is none of ours."""
    return next((kind for magic, kind in _MAGIC.items() if head.startswith(magic)), None)


def looks_complete(data: bytes) -> bool | None:
    """True when the file's own structure says it is whole, False when it says it is cut short, None
    when it is not a type we know (nothing can be said)."""
    check = _COMPLETENESS.get(sniff_content_type(data[:16]) or "")
    return check(data) if check else None


def _pdf_complete(data: bytes) -> bool:
    return b"%%EOF" in data[-PDF_TAIL:]


def _png_complete(data: bytes) -> bool:
    offset = 8
    while offset + 12 <= len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        end = offset + 12 + length
        if end > len(data):
            return False
        if kind == b"IEND":
            return True
        offset = end
    return False


def _jpeg_complete(data: bytes) -> bool:
    """Walk the segments to the first scan, then look for the EOI marker after it (an EXIF thumbnail's
    own EOI sits inside an APP segment, which the walk skips)."""
    offset = 2
    while offset + 4 <= len(data):
        if data[offset] != 0xFF:
            return False
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if marker == 0xD9:
            return True
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            offset += 2
            continue
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        if marker == 0xDA:  # start of scan: entropy-coded data follows, where 0xFF is always escaped
            return data.find(b"\xff\xd9", offset + 2 + length) != -1
        offset += 2 + length
    return False


_TIFF_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 16: 8}
_STRIP_OR_TILE = {273: 279, 324: 325}  # offsets tag → byte counts tag


def _tiff_complete(data: bytes) -> bool:
    """Every directory, and every strip or tile it points at, lies within the bytes the file has."""
    order = "<" if data[:2] == b"II" else ">"
    size = len(data)
    try:
        (directory,) = struct.unpack(order + "I", data[4:8])
        seen: set[int] = set()
        while directory:
            if directory in seen or len(seen) > MAX_TIFF_PAGES or directory + 2 > size:
                return False
            seen.add(directory)
            (count,) = struct.unpack(order + "H", data[directory : directory + 2])
            end = directory + 2 + 12 * count
            if end + 4 > size:
                return False
            values = {}
            for entry in range(directory + 2, end, 12):
                tag, kind, number = struct.unpack(order + "HHI", data[entry : entry + 8])
                width = _TIFF_TYPE_SIZES.get(kind, 1) * number
                place = (
                    entry + 8 if width <= 4 else struct.unpack(order + "I", data[entry + 8 : entry + 12])[0]
                )
                if place + width > size:
                    return False
                if tag in _STRIP_OR_TILE or tag in _STRIP_OR_TILE.values():
                    code = {3: "H", 4: "I"}.get(kind)
                    if code is None:
                        return False
                    values[tag] = struct.unpack(f"{order}{number}{code}", data[place : place + width])
            for offsets_tag, counts_tag in _STRIP_OR_TILE.items():
                offsets, counts = values.get(offsets_tag, ()), values.get(counts_tag, ())
                if any(offset + length > size for offset, length in zip(offsets, counts, strict=False)):
                    return False
            (directory,) = struct.unpack(order + "I", data[end : end + 4])
    except struct.error:
        return False
    return True


_COMPLETENESS: dict[str, Callable[[bytes], bool]] = {
    "application/pdf": _pdf_complete,
    "image/png": _png_complete,
    "image/jpeg": _jpeg_complete,
    "image/tiff": _tiff_complete,
}
