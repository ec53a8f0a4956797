"""Perfect OCR: the generator's ground truth as the OCR service's `PageTables`.

Parser tests start from this so that they test reading the form, not reading pixels; the OCR tests
and the end-to-end tests cover pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

from scangen import ScanPage
from selfeval.contract.ocr import Cell, Page, PageTables, Table, TextLine


def page_tables(pages: Sequence[ScanPage], sha256: str = "0" * 64, source: str = "scan.pdf") -> PageTables:
    return PageTables(sha256=sha256, source=source, pages=[_page(page) for page in pages])


def _page(page: ScanPage) -> Page:
    truth = page.truth
    cells = [
        Cell(
            row=c.row,
            col=c.col,
            rowspan=c.rowspan,
            colspan=c.colspan,
            bbox=c.bbox,
            text=c.text,
            confidence=1.0 if c.text else None,
        )
        for c in truth.cells
    ]
    tables = []
    if cells:
        bbox = (
            min(c.bbox[0] for c in cells),
            min(c.bbox[1] for c in cells),
            max(c.bbox[2] for c in cells),
            max(c.bbox[3] for c in cells),
        )
        n_rows = max(c.row + c.rowspan for c in cells)
        n_cols = max(c.col + c.colspan for c in cells)
        tables.append(Table(bbox=bbox, n_rows=n_rows, n_cols=n_cols, cells=cells))
    return Page(
        number=truth.page,
        width=truth.width,
        height=truth.height,
        dpi=truth.dpi,
        tables=tables,
        free_lines=[TextLine(text=line.text, confidence=1.0, box=line.bbox) for line in truth.text_lines],
    )
