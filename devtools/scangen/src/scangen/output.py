"""Write pages as an image-only PDF, PNG files or a multi-page TIFF, and the truth as JSON."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from selfeval.contract.record import Form

from .render import ScanPage
from .truth import DocumentTruth

# A fixed date keeps PDFs byte-identical for the same seed (Pillow stamps "now" otherwise).
_FIXED_DATE = time.struct_time((2025, 1, 1, 0, 0, 0, 2, 1, 0))


def _require(pages: Sequence[ScanPage]) -> None:
    if not pages:
        raise ValueError("no pages to write")


def write_pdf(pages: Sequence[ScanPage], path: str | Path) -> Path:
    """An image-only PDF (no text layer), each page sized A4 from its dpi.

    As scanners write them: colour and grey pages as JPEG at the scan's own quality, black-and-white
    pages as CCITT G4.
    """
    _require(pages)
    path = Path(path)
    # Copies: Pillow leaves the PDF's settings on the images it appends, and a later save would see them.
    images = [page.image.copy() for page in pages]
    # Pillow hands the JPEG quality on to its G4 (TIFF) encoder too, which refuses it: a document
    # with black-and-white pages leaves it at Pillow's default for any other page.
    jpeg = {} if any(image.mode == "1" for image in images) else {"quality": _jpeg_quality(pages)}
    images[0].save(
        path,
        "PDF",
        save_all=True,
        append_images=images[1:],
        resolution=float(pages[0].truth.dpi),
        title="scan",
        creationDate=_FIXED_DATE,
        modDate=_FIXED_DATE,
        **jpeg,
    )
    return path


_UNCOMPRESSED_QUALITY = 95  # a page that never met the JPEG step is kept near-lossless


def _jpeg_quality(pages: Sequence[ScanPage]) -> int:
    """The JPEG quality the scan was made with (the highest, should pages differ: none gets worse)."""
    qualities = [
        done.get("quality", _UNCOMPRESSED_QUALITY)
        for page in pages
        for done in page.truth.degradations
        if done["kind"] == "Jpeg"
    ]
    jpeg_pages = sum(1 for page in pages if any(d["kind"] == "Jpeg" for d in page.truth.degradations))
    if jpeg_pages < len(pages):
        qualities.append(_UNCOMPRESSED_QUALITY)
    return max(qualities)


def write_png(pages: Sequence[ScanPage], directory: str | Path, stem: str = "page") -> list[Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for page in pages:
        path = directory / f"{stem}-{page.truth.page:03d}.png"
        page.image.save(path, "PNG", dpi=(page.truth.dpi, page.truth.dpi))
        paths.append(path)
    return paths


def write_tiff(pages: Sequence[ScanPage], path: str | Path) -> Path:
    """A multi-page TIFF: CCITT G4 when every page is black-and-white, else lossless deflate."""
    _require(pages)
    path = Path(path)
    dpi = (pages[0].truth.dpi, pages[0].truth.dpi)
    bilevel = all(page.image.mode == "1" for page in pages)
    images = [
        page.image.copy() if bilevel or page.image.mode != "1" else page.image.convert("L") for page in pages
    ]
    compression = "group4" if bilevel else "tiff_deflate"
    images[0].save(path, "TIFF", save_all=True, append_images=images[1:], compression=compression, dpi=dpi)
    return path


def document_truth(pages: Sequence[ScanPage], forms: Sequence[Form] = ()) -> DocumentTruth:
    return DocumentTruth(
        pages=[page.truth for page in pages], forms=[form.model_dump(mode="json") for form in forms]
    )


def write_truth(pages: Sequence[ScanPage], path: str | Path, forms: Sequence[Form] = ()) -> Path:
    path = Path(path)
    path.write_text(document_truth(pages, forms).model_dump_json(indent=1), encoding="utf-8")
    return path
