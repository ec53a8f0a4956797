"""Rows of a form's table across its pages, and the column ranges its header rows define."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from selfeval.contract.ocr import Cell, Page
from services.parser.labels import Label, LabelMatch, match_label, match_labels_in_order, resembles


@dataclass
class GridRow:
    """One grid row of a page's table: the cells that start here and the merged ones reaching down."""

    page: int
    index: int
    top: int
    bottom: int
    started: list[Cell]
    spanning: list[Cell] = field(default_factory=list)
    first_on_page: bool = False

    @property
    def cells(self) -> list[Cell]:
        return sorted([*self.started, *self.spanning], key=lambda c: c.bbox[0])

    def labels(self, candidates: tuple[Label, ...]) -> list[tuple[Cell, LabelMatch]]:
        cells = sorted((cell for cell in self.started if cell.text), key=lambda cell: cell.bbox[0])
        texts = [cell.text if match_label(cell.text, candidates) else label_text(cell) for cell in cells]
        matches = match_labels_in_order(texts, candidates)
        return [(cell, match) for cell, match in zip(cells, matches, strict=True) if match is not None]

    def header_labels(self, candidates: tuple[Label, ...]) -> list[tuple[Cell, LabelMatch]]:
        """The labels of a header row printed in the order of `candidates`, left to right, with those
        that were not read known by their place (`placed_labels`)."""
        found = self.labels(candidates)
        placed = self.placed_labels({match.label: cell for cell, match in found}, candidates)
        return sorted([*found, *placed], key=lambda item: item[0].bbox[0])

    def placed_labels(
        self, cells_of: dict[Label, Cell], candidates: tuple[Label, ...]
    ) -> list[tuple[Cell, LabelMatch]]:
        """Labels of `candidates` (printed in that order, left to right) not among `cells_of` (a seal's
        letters or a speck over them, print too blurred to match), known by their place: a run of
        labels lost side by side is the cells between the labels read either side of it, one each,
        when there are exactly as many (分款 and 执行塞 between 全年执行数 and 得分). One label lost at
        either end is the cell just outside the last label read, when it ends the table's row or
        its text still resembles the label."""
        placed: list[tuple[Cell, LabelMatch]] = []
        for run in _lost_runs(cells_of, candidates):
            first, last = candidates.index(run[0]), candidates.index(run[-1])
            left = cells_of.get(candidates[first - 1]) if first > 0 else None
            right = cells_of.get(candidates[last + 1]) if last + 1 < len(candidates) else None
            if left is not None and right is not None:
                places = sorted(
                    (
                        c
                        for c in self.started
                        if c.bbox[0] >= left.bbox[2] - 2 and c.bbox[2] <= right.bbox[0] + 2
                    ),
                    key=lambda c: c.bbox[0],
                )
            elif len(run) > 1:
                continue
            elif right is not None:
                first_cell = min(self.cells, key=lambda c: c.bbox[0])
                places = [
                    c
                    for c in self.started
                    if abs(c.bbox[2] - right.bbox[0]) <= 2 and (c is first_cell or resembles(c.text, run[0]))
                ]
            elif left is not None:
                last_cell = max(self.cells, key=lambda c: c.bbox[2])
                places = [
                    c
                    for c in self.started
                    if abs(c.bbox[0] - left.bbox[2]) <= 2 and (c is last_cell or resembles(c.text, run[0]))
                ]
            else:
                places = []
            if len(places) != len(run) or any(place in cells_of.values() for place in places):
                continue
            placed += [known_unmatched(place, label) for place, label in zip(places, run, strict=True)]
        return placed


def known_unmatched(cell: Cell, label: Label) -> tuple[Cell, LabelMatch]:
    """A label cell known otherwise than by matching what was read (by its place in the row, or as the
    one label still unread that it resembles): scored 0."""
    return cell, LabelMatch(label=label, read=cell.text, score=0.0)


def _lost_runs(cells_of: dict[Label, Cell], candidates: tuple[Label, ...]) -> list[list[Label]]:
    """The labels of `candidates` not in `cells_of`, in runs of neighbours in printed order."""
    runs: list[list[Label]] = []
    for position, label in enumerate(candidates):
        if label in cells_of:
            continue
        if runs and candidates.index(runs[-1][-1]) == position - 1:
            runs[-1].append(label)
        else:
            runs.append([label])
    return runs


SURE_LINE = 0.8
"""a line of a label cell read at least this sure is print; a doubtful one beside it may be a seal's ink"""


def label_text(cell: Cell) -> str:
    """The text a cell's label is matched on: its lines read with confidence, when others beside them
    were read with doubt (a seal's ring and letters over the 总分 row read '、严一' next to a sure 总分);
    the whole text otherwise."""
    sure = [line.text for line in cell.lines if line.confidence >= SURE_LINE]
    return "".join(sure) if sure and len(sure) < len(cell.lines) else cell.text


Span = tuple[int, int]


def rows_of(pages: Iterable[Page]) -> list[GridRow]:
    """All table rows of the pages, top to bottom, page after page."""
    rows: list[GridRow] = []
    for page in pages:
        page_rows: list[GridRow] = []
        for table in sorted(page.tables, key=lambda t: t.bbox[1]):
            for index in range(table.n_rows):
                started = [c for c in table.cells if c.row == index]
                spanning = [c for c in table.cells if c.row < index < c.row + c.rowspan]
                if not started and not spanning:
                    continue
                top = min((c.bbox[1] for c in started), default=spanning[0].bbox[1] if spanning else 0)
                bottom = max((c.bbox[3] for c in started), default=top)
                page_rows.append(GridRow(page.number, index, top, bottom, started, spanning))
        if page_rows:
            page_rows[0].first_on_page = True
        rows.extend(page_rows)
    return rows


def overlap(a: Span, b: Span) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def cell_span(cell: Cell) -> Span:
    return cell.bbox[0], cell.bbox[2]


def cell_in_column(row: GridRow, column: Span, include_spanning: bool = False) -> Cell | None:
    """The cell of the row that covers most of a column's x-range (half of it at least)."""
    cells = row.cells if include_spanning else row.started
    best = max(cells, key=lambda c: overlap(cell_span(c), column), default=None)
    if best is None:
        return None
    width = column[1] - column[0]
    covered = overlap(cell_span(best), column)
    # A wide cell (a merged value) covers the column; a narrow neighbour must cover most of it.
    if covered * 2 < min(width, best.bbox[2] - best.bbox[0]):
        return None
    return best
