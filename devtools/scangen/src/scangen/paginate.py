"""Measure table rows with the font and cut them into pages, splitting rows at page breaks."""

from __future__ import annotations

from dataclasses import dataclass

from .layout import Cell, Measures, PageGeometry, Row, Span, Table, wrap_text


@dataclass
class MeasuredRow:
    index: int
    row: Row
    lines: list[list[str]]  # wrapped lines per cell, in row.cells order
    min_height: int  # grown so vertical spans fit their label

    @property
    def n_lines(self) -> int:
        return max(len(cell_lines) for cell_lines in self.lines)


@dataclass
class PlacedRow:
    """A row, or the part of a row, placed on one page."""

    source: MeasuredRow
    y0: int
    y1: int
    lines: list[list[str]]
    continued: bool = False  # holds text carried over from the previous page
    more: list[bool] | None = None  # per cell: the rest of its text is on the next page

    @property
    def cells(self) -> list[Cell]:
        return self.source.row.cells


def lines_height(n_lines: int, geo: PageGeometry) -> int:
    return n_lines * geo.line_h + 2 * geo.pad_y


def measure_table(table: Table, font: Measures, geo: PageGeometry) -> list[MeasuredRow]:
    rows = []
    for i, row in enumerate(table.rows):
        lines = [_wrap_cell(c, font, geo) for c in row.cells]
        rows.append(MeasuredRow(i, row, lines, lines_height(max(map(len, lines)), geo)))
    for span in table.spans:
        _grow_for_span(rows, span, font, geo)
    return rows


def _wrap_cell(cell: Cell, font: Measures, geo: PageGeometry) -> list[str]:
    return wrap_text(cell.text, font, geo.text_width(cell.col, cell.colspan), cell.field is None)


def _grow_for_span(rows: list[MeasuredRow], span: Span, font: Measures, geo: PageGeometry) -> None:
    """Give the span's last row the extra height the merged label needs."""
    needed = lines_height(len(wrap_text(span.text, font, geo.text_width(span.col, 1), True)), geo)
    have = sum(r.min_height for r in rows[span.first : span.last + 1])
    if needed > have:
        rows[span.last].min_height += needed - have


def paginate(rows: list[MeasuredRow], geo: PageGeometry, first_top: int) -> list[list[PlacedRow]]:
    """Place rows top to bottom: from `first_top` on the first page, from the margin after."""
    pages: list[list[PlacedRow]] = [[]]
    y = first_top
    for row in rows:
        pending: PlacedRow | None = PlacedRow(row, 0, 0, row.lines)
        while pending is not None:
            placed, pending = _place(pending, y, geo)
            if placed is not None:
                pages[-1].append(placed)
                y = placed.y1
            if pending is not None:
                pages.append([])
                y = geo.margin
    return pages


def _place(part: PlacedRow, y: int, geo: PageGeometry) -> tuple[PlacedRow | None, PlacedRow | None]:
    """What of `part` goes on the page at `y`, and what is left for the next page."""
    n_lines = max(map(len, part.lines))
    full = lines_height(n_lines, geo)
    height = full if part.continued else max(full, part.source.min_height)
    room = geo.table_bottom - y
    if height <= room:
        return _at(part, y, height), None
    fit = (room - 2 * geo.pad_y) // geo.line_h
    at_page_top = y == geo.margin
    if n_lines <= 1 or fit < 1 or fit >= n_lines:
        if at_page_top:  # taller than a whole page and unsplittable: let it overflow rather than loop
            return _at(part, y, height), None
        return None, part
    head = [cell_lines[:fit] for cell_lines in part.lines]
    tail = [cell_lines[fit:] or [""] for cell_lines in part.lines]
    more = [len(cell_lines) > fit for cell_lines in part.lines]
    placed = PlacedRow(part.source, y, y + lines_height(fit, geo), head, part.continued, more)
    return placed, PlacedRow(part.source, 0, 0, tail, continued=True)


def _at(part: PlacedRow, y: int, height: int) -> PlacedRow:
    return PlacedRow(part.source, y, y + height, part.lines, part.continued)
