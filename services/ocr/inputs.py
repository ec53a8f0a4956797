"""Submitted bytes → page images (BGR uint8), after checking everything that can be checked cheaply.

The file type comes from its magic bytes, never its name. Every problem with a submission raises
`InputRejected` with a reason a person can act on; it is raised before any page is decoded or
recognised, so a bad submission costs almost nothing. Pages are produced one at a time so a long PDF
never sits in memory as a whole.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pypdfium2 as pdfium
from PIL import Image, ImageSequence, UnidentifiedImageError

PDF, PNG, JPEG, TIFF = "pdf", "png", "jpeg", "tiff"
_PDFIUM_PASSWORD_ERROR = 4  # FPDF_ERR_PASSWORD


class InputRejected(ValueError):  # noqa: N818 - the name the CLI and API contract use
    """The submission cannot be read; `reason` says why in words meant for the submitter."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def sniff_type(data: bytes) -> str:
    """'pdf', 'png', 'jpeg' or 'tiff' from the leading bytes; InputRejected for anything else."""
    if not data:
        raise InputRejected("the file is empty (0 bytes)")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return TIFF
    if b"%PDF-" in data[:1024]:  # the header may follow a little junk, as readers allow
        return PDF
    raise InputRejected(f"unsupported file type ({describe_bytes(data)}); send a PDF, PNG, JPEG or TIFF")


def describe_bytes(data: bytes) -> str:
    """A short guess at what the bytes are, for the rejection message."""
    head = data[:512]
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive, e.g. a Word or Excel file"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "a GIF image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return f"unrecognised binary data starting {head[:8].hex(' ')}"
    return "plain text"


@dataclass
class Document:
    """A checked submission: its type, page count, and a way to render its pages one by one."""

    kind: str
    page_count: int
    dpi: int
    _pages: Iterator[tuple[np.ndarray, int]] = field(repr=False)

    def pages(self) -> Iterator[tuple[np.ndarray, int]]:
        """(BGR image, dpi) per page, in order; each page is decoded only when asked for."""
        return self._pages


def open_document(data: bytes, dpi: int = 200, max_pages: int = 50, max_pixels: int = 60_000_000) -> Document:
    """Check the submission and prepare to render it; InputRejected with a precise reason otherwise."""
    kind = sniff_type(data)
    if kind == PDF:
        return _open_pdf(data, dpi, max_pages, max_pixels)
    return _open_image(data, kind, dpi, max_pages, max_pixels)


def _check_page_count(count: int, max_pages: int) -> None:
    if count == 0:
        raise InputRejected("the file has no pages")
    if count > max_pages:
        raise InputRejected(f"the file has {count} pages; at most {max_pages} are accepted")


def _check_pixels(width: int, height: int, max_pixels: int, page: int) -> None:
    if width <= 0 or height <= 0:
        raise InputRejected(f"page {page} has no area ({width}×{height} pixels)")
    if width * height > max_pixels:
        raise InputRejected(
            f"page {page} is {width}×{height} = {width * height:,} pixels; at most {max_pixels:,} are"
            " accepted (scan at a lower resolution)"
        )


# --- PDF ----------------------------------------------------------------------------------------------


def _load_pdf(data: bytes) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as error:
        if getattr(error, "err_code", None) == _PDFIUM_PASSWORD_ERROR:
            raise InputRejected(
                "the PDF is encrypted (password-protected); send it without a password"
            ) from None
        raise InputRejected(f"the PDF is broken or truncated and cannot be opened ({error})") from None


def _open_pdf(data: bytes, dpi: int, max_pages: int, max_pixels: int) -> Document:
    pdf = _load_pdf(data)
    try:
        count = len(pdf)
        _check_page_count(count, max_pages)
        scale = dpi / 72
        for index in range(count):
            width, height = pdf.get_page_size(index)
            _check_pixels(round(width * scale), round(height * scale), max_pixels, index + 1)
    except BaseException:
        pdf.close()
        raise
    return Document(PDF, count, dpi, _render_pdf(pdf, dpi, max_pixels))


def _render_pdf(pdf: pdfium.PdfDocument, dpi: int, max_pixels: int) -> Iterator[tuple[np.ndarray, int]]:
    try:
        for index in range(len(pdf)):
            page = pdf[index]
            try:
                scan = _bilevel_scan(page, dpi, max_pixels)
                if scan is not None:
                    yield scan
                    continue
                bitmap = page.render(scale=dpi / 72, rev_byteorder=False, fill_color=(255, 255, 255, 255))
                pixels = bitmap.to_numpy()  # BGR(A) in pdfium's native byte order
                yield np.ascontiguousarray(pixels[:, :, :3]), dpi
            except pdfium.PdfiumError as error:
                raise InputRejected(f"page {index + 1} of the PDF cannot be rendered ({error})") from None
            finally:
                page.close()
    finally:
        pdf.close()


MIN_BILEVEL_DPI = 100
"""below this a black-and-white scan is rendered up to the reading resolution like any page"""


def _bilevel_scan(page: pdfium.PdfPage, dpi: int, max_pixels: int) -> tuple[np.ndarray, int] | None:
    """A page that is one black-and-white scan: its own pixels (BGR) and resolution; else None.

    An office scanner in black-and-white writes each page as one 1-bit image (CCITT G4). Rendered at any
    other scale it is resampled into grey mush: dithered paper turns into a field of grey specks and the
    clean-up can no longer tell the scan was black-and-white. A finer scan is rendered down to the
    reading resolution `dpi` (averaging its dots is a fair way to make it grey), and grey and colour
    scans resample harmlessly.
    """
    images = [obj for obj in page.get_objects() if obj.type == pdfium.raw.FPDF_PAGEOBJ_IMAGE]
    if len(images) != 1:
        return None
    image = images[0]
    try:
        metadata = image.get_metadata()
        matrix = image.get_matrix()
    except pdfium.PdfiumError:
        return None
    shown_width, turn_a, turn_b, shown_height = matrix.a, matrix.b, matrix.c, matrix.d
    page_width, page_height = page.get_size()
    if (
        metadata.bits_per_pixel != 1
        or page.get_rotation() != 0  # shown turned: pdfium's rendering turns it upright
        or turn_a != 0
        or turn_b != 0
        or shown_width <= 0
        or shown_height <= 0
        or shown_width * shown_height < 0.9 * page_width * page_height
    ):
        return None  # not one upright image filling the page: render the page as it is drawn
    native = metadata.width / (shown_width / 72)
    if not MIN_BILEVEL_DPI <= native <= dpi + 0.5 or metadata.width * metadata.height > max_pixels:
        return None
    try:
        pixels = image.get_bitmap(render=False).to_numpy()
    except pdfium.PdfiumError:
        return None
    if pixels.ndim != 2:
        return None
    return np.ascontiguousarray(np.repeat(pixels[:, :, None], 3, axis=2)), round(native)


# --- images -------------------------------------------------------------------------------------------


def _open_pil(data: bytes, kind: str, max_pixels: int) -> Image.Image:
    """Open lazily (header only); Pillow's own bomb guard is kept above our limit as a backstop."""
    Image.MAX_IMAGE_PIXELS = max(max_pixels, Image.MAX_IMAGE_PIXELS or 0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as error:
        size = _declared_size(data, kind)
        if size is not None:
            _check_pixels(*size, max_pixels, 1)
        found = re.search(r"\((\d+) pixels\)", str(error))
        pixels = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise InputRejected(
            f"page 1 is {pixels}; at most {max_pixels:,} are accepted (scan at a lower resolution)"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise InputRejected(f"the image is broken or truncated and cannot be opened ({error})") from None


def _declared_size(data: bytes, kind: str) -> tuple[int, int] | None:
    """The width and height the header claims, read by the format's own plugin without Pillow's bomb
    guard (only to say how big the refused image is; nothing is decoded)."""
    plugin = Image.OPEN.get(kind.upper())
    if plugin is None:
        return None
    try:
        with plugin[0](io.BytesIO(data)) as image:
            width, height = image.size
    except Exception:  # a header too broken to report its size: the caller says so without it
        return None
    return width, height


def _frame_sizes(image: Image.Image, max_pages: int) -> list[tuple[int, int]]:
    count = getattr(image, "n_frames", 1)
    _check_page_count(count, max_pages)
    sizes = []
    for frame in ImageSequence.Iterator(image):
        sizes.append(frame.size)
    return sizes


def _open_image(data: bytes, kind: str, dpi: int, max_pages: int, max_pixels: int) -> Document:
    image = _open_pil(data, kind, max_pixels)
    try:
        sizes = _frame_sizes(image, max_pages)
    except InputRejected:
        raise
    except (OSError, ValueError, EOFError) as error:
        raise InputRejected(f"the {kind.upper()} is broken or truncated ({error})") from None
    for number, (width, height) in enumerate(sizes, start=1):
        _check_pixels(width, height, max_pixels, number)
    file_dpi = _image_dpi(image, dpi)
    return Document(kind, len(sizes), file_dpi, _decode_frames(image, kind, file_dpi))


def _image_dpi(image: Image.Image, default: int) -> int:
    value = image.info.get("dpi")
    try:
        x = round(float(value[0])) if value else 0
    except (TypeError, ValueError, IndexError):
        x = 0
    return x if 72 <= x <= 1200 else default


def _decode_frames(image: Image.Image, kind: str, dpi: int) -> Iterator[tuple[np.ndarray, int]]:
    with image:
        for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
            try:
                rgb = _to_rgb(frame)
            except (OSError, ValueError, SyntaxError) as error:
                raise InputRejected(
                    f"page {number} of the {kind.upper()} is broken or truncated ({error})"
                ) from None
            yield np.ascontiguousarray(rgb[:, :, ::-1]), dpi


def _to_rgb(frame: Image.Image) -> np.ndarray:
    """Any mode (1-bit, palette, 16-bit grey, CMYK, alpha) as RGB on white."""
    if frame.mode in ("I;16", "I;16B", "I;16L", "I"):
        wide = np.asarray(frame, dtype=np.float64)
        top = max(float(wide.max()), 1.0)
        grey = (wide * (255.0 / (65535.0 if top > 255 else 255.0))).clip(0, 255).astype(np.uint8)
        return np.stack([grey] * 3, axis=-1)
    if frame.mode in ("RGBA", "LA", "PA") or (frame.mode == "P" and "transparency" in frame.info):
        rgba = frame.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        canvas.alpha_composite(rgba)
        return np.asarray(canvas.convert("RGB"))
    return np.asarray(frame.convert("RGB"))
