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
    """An image-only PDF (no text layer), each page sized A4 from its dpi."""
    _require(pages)
    path = Path(path)
    images = [page.image.convert("RGB") for page in pages]
    images[0].save(
        path,
        "PDF",
        save_all=True,
        append_images=images[1:],
        resolution=float(pages[0].truth.dpi),
        title="scan",
        creationDate=_FIXED_DATE,
        modDate=_FIXED_DATE,
    )
    return path


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
    _require(pages)
    path = Path(path)
    dpi = (pages[0].truth.dpi, pages[0].truth.dpi)
    images = [page.image.convert("RGB") for page in pages]
    images[0].save(path, "TIFF", save_all=True, append_images=images[1:], compression="tiff_deflate", dpi=dpi)
    return path


def document_truth(pages: Sequence[ScanPage], forms: Sequence[Form] = ()) -> DocumentTruth:
    return DocumentTruth(
        pages=[page.truth for page in pages], forms=[form.model_dump(mode="json") for form in forms]
    )


def write_truth(pages: Sequence[ScanPage], path: str | Path, forms: Sequence[Form] = ()) -> Path:
    path = Path(path)
    path.write_text(document_truth(pages, forms).model_dump_json(indent=1), encoding="utf-8")
    return path
