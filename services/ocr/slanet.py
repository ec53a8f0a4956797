"""Fallback table structure from SLANet_plus, for a tabular text block that has no ruling lines.

SLANet_plus reads an image of a table and emits HTML structure tokens plus one box per cell. The
tokens give rows, columns and spans; the boxes (8 numbers, a quadrilateral) give where each cell is.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from selfeval.contract.ocr import Box
from services.ocr.grid import Grid, GridCell

_SPAN = re.compile(r'\s*(rowspan|colspan)="(\d+)"')


def cells_from_tokens(tokens: list[str]) -> list[tuple[int, int, int, int]]:
    """(row, col, rowspan, colspan) per cell in token order, placing cells around earlier row spans."""
    cells: list[tuple[int, int, int, int]] = []
    occupied: set[tuple[int, int]] = set()
    row, col = -1, 0
    pending: dict[str, int] | None = None
    for token in tokens:
        if token == "<tr>":
            row, col = row + 1, 0
        elif token in ("<td>", "<td></td>", "<td"):
            pending = {"rowspan": 1, "colspan": 1}
            if token != "<td":
                col = _place(cells, occupied, row, col, pending)
                pending = None
        elif pending is not None and (match := _SPAN.match(token)):
            pending[match.group(1)] = int(match.group(2))
        elif token == ">" and pending is not None:
            col = _place(cells, occupied, row, col, pending)
            pending = None
    return cells


def _place(
    cells: list[tuple[int, int, int, int]],
    occupied: set[tuple[int, int]],
    row: int,
    col: int,
    spans: dict[str, int],
) -> int:
    while (row, col) in occupied:
        col += 1
    rowspan, colspan = spans["rowspan"], spans["colspan"]
    occupied.update((row + r, col + c) for r in range(rowspan) for c in range(colspan))
    cells.append((row, col, rowspan, colspan))
    return col + colspan


def _box_of(quad: Any, dx: int, dy: int) -> Box:
    points = np.asarray(quad, dtype=np.float64).reshape(-1, 2)
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    return (round(x0) + dx, round(y0) + dy, round(x1) + dx, round(y1) + dy)


def grid_from_slanet(model: Any, grey: np.ndarray, region: Box) -> Grid | None:
    """Run SLANet_plus on `region` of the page; None when it finds no table of at least 2×2."""
    x0, y0, x1, y1 = region
    crop = np.ascontiguousarray(np.repeat(grey[y0:y1, x0:x1, None], 3, axis=2))
    result = model.predict(crop, batch_size=1)[0]
    placed = cells_from_tokens(list(result["structure"]))
    boxes = [_box_of(quad, x0, y0) for quad in result["bbox"]]
    if len(placed) < 4 or len(boxes) != len(placed):
        return None
    cells = [GridCell(r, c, rs, cs, box) for (r, c, rs, cs), box in zip(placed, boxes, strict=True)]
    n_rows = max(c.row + c.rowspan for c in cells)
    n_cols = max(c.col + c.colspan for c in cells)
    if n_rows < 2 or n_cols < 2:
        return None
    xs = [x0] * n_cols + [x1]  # SLANet has no grid lines; only the outer edges are meaningful
    ys = [y0] * n_rows + [y1]
    return Grid(xs=xs, ys=ys, cells=cells, structure="slanet")
