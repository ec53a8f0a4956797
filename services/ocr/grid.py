"""Table structure from ruling lines: line masks → grid lines → elementary cells → merged cells.

The forms are fully ruled, so the structure is in the lines, not the text. Long horizontal and
vertical strokes are isolated by morphological opening, their positions clustered into the grid's
row and column lines, and two neighbouring elementary cells are the same (merged) cell exactly when
the ruling between them is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from selfeval.contract.ocr import Box


@dataclass(frozen=True)
class GridCell:
    row: int
    col: int
    rowspan: int
    colspan: int
    bbox: Box


@dataclass
class Grid:
    """One ruled table: its grid line positions and its (possibly merged) cells."""

    xs: list[int]
    ys: list[int]
    cells: list[GridCell] = field(default_factory=list)
    structure: str = "ruling"

    @property
    def bbox(self) -> Box:
        return (self.xs[0], self.ys[0], self.xs[-1], self.ys[-1])

    @property
    def n_rows(self) -> int:
        return len(self.ys) - 1

    @property
    def n_cols(self) -> int:
        return len(self.xs) - 1


@dataclass(frozen=True)
class Rulings:
    horizontal: np.ndarray
    """mask of horizontal ruling pixels (uint8, 255)"""
    vertical: np.ndarray

    @property
    def both(self) -> np.ndarray:
        return cv2.bitwise_or(self.horizontal, self.vertical)

    def of_tables(self, grids: list[Grid]) -> np.ndarray:
        """The rulings to take out of the text ink: in a table only those on its grid lines; outside
        every table each horizontal one and no vertical one.

        A big bold title's vertical strokes (目, 财) are as long as the shortest vertical ruling;
        outside a table they are print, and taking them out would leave the title half erased. In a
        cell, the strokes of a row of characters (the middle of 基本) can line up into a run as long
        as the shortest ruling; off the grid lines they are print too.
        """
        return cv2.bitwise_or(
            _on_grid_lines(self.horizontal, grids, axis=0, outside=True),
            _on_grid_lines(self.vertical, grids, axis=1, outside=False),
        )


def _on_grid_lines(mask: np.ndarray, grids: list[Grid], axis: int, outside: bool) -> np.ndarray:
    """The pieces of a ruling mask (axis 0: horizontal, 1: vertical) that lie on a grid line of the
    table they are in; pieces in no table are kept when `outside`."""
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
    keep = np.zeros(count, dtype=bool)
    margin = 3
    for label in range(1, count):
        cx, cy = centroids[label]
        grid = next(
            (
                g
                for g in grids
                if g.bbox[0] - margin <= cx <= g.bbox[2] + margin
                and g.bbox[1] - margin <= cy <= g.bbox[3] + margin
            ),
            None,
        )
        if grid is None:
            keep[label] = outside
            continue
        lines, across = (grid.ys, cy) if axis == 0 else (grid.xs, cx)
        thickness = stats[label, cv2.CC_STAT_HEIGHT if axis == 0 else cv2.CC_STAT_WIDTH]
        keep[label] = min(abs(line - across) for line in lines) <= max(margin, thickness)
    return np.where(keep[labels], mask, np.uint8(0))


def ruling_masks(ink: np.ndarray, dpi: int) -> Rulings:
    """Strokes longer than any character stroke, bridged over small breaks from noise.

    Vertical rulings can be as short as the lowest row (~0.25 in), so their run is shorter. A ruling
    of a page that is not flat is a little tilted or bent; thickened across its length first, it
    still holds a straight run (the ruling's own pixels are kept, not the thickening).
    """
    gap = max(3, dpi // 50)
    across = max(1, dpi // 100)
    horizontal = _line_mask(ink, (max(30, int(dpi * 0.3)), 1), (gap, 1), (1, 2 * across + 1))
    vertical = _line_mask(ink, (1, max(24, int(dpi * 0.2))), (1, gap), (2 * across + 1, 1))
    return Rulings(horizontal, vertical)


def _line_mask(
    ink: np.ndarray, run: tuple[int, int], gap: tuple[int, int], thicken: tuple[int, int]
) -> np.ndarray:
    closed = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, gap))
    thick = cv2.dilate(closed, cv2.getStructuringElement(cv2.MORPH_RECT, thicken))
    runs = cv2.morphologyEx(thick, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, run))
    own = cv2.bitwise_and(runs, closed)
    return _held_together(own, run)


def _held_together(own: np.ndarray, run: tuple[int, int]) -> np.ndarray:
    """The pieces of `own` that make one line of the run's length when a step of one pixel across
    joins them. A tilted or bent ruling steps a pixel at a time; the strokes of a row of characters
    (the tops of 政拨款) that the thickening lined up sit two or more pixels apart and fall away.
    """
    along = 0 if run[0] > run[1] else 1  # 0: horizontal (length in x), 1: vertical
    step = (1, 3) if along == 0 else (3, 1)
    linked = cv2.dilate(own, cv2.getStructuringElement(cv2.MORPH_RECT, step))
    _, labels, stats, _ = cv2.connectedComponentsWithStats(linked, connectivity=8)
    length = stats[:, cv2.CC_STAT_WIDTH] if along == 0 else stats[:, cv2.CC_STAT_HEIGHT]
    keep = length >= max(run)
    keep[0] = False
    return np.where(keep[labels], own, np.uint8(0))


def find_grids(rulings: Rulings, dpi: int) -> list[Grid]:
    """Every ruled table on the page, top to bottom."""
    # A table is at least half an inch wide and one line of print tall: the last row of a form
    # (评分等级) can stand alone at the top of a page.
    min_width, min_height = dpi // 2, dpi // 8
    count, labels, stats, _ = cv2.connectedComponentsWithStats(rulings.both, connectivity=8)
    grids = []
    for label in range(1, count):
        x, y, w, h, _ = stats[label]
        if w < min_width or h < min_height:
            continue
        region = (slice(y, y + h), slice(x, x + w))
        own = (labels[region] == label).astype(np.uint8) * 255
        local = Rulings(rulings.horizontal[region] & own, rulings.vertical[region] & own)
        grid = grid_from_rulings(local, dpi)
        if grid is not None:
            grids.append(_shifted(grid, int(x), int(y)))
    return sorted(grids, key=lambda g: g.ys[0])


def _shifted(grid: Grid, dx: int, dy: int) -> Grid:
    cells = [
        GridCell(
            c.row,
            c.col,
            c.rowspan,
            c.colspan,
            (c.bbox[0] + dx, c.bbox[1] + dy, c.bbox[2] + dx, c.bbox[3] + dy),
        )
        for c in grid.cells
    ]
    return Grid([x + dx for x in grid.xs], [y + dy for y in grid.ys], cells, grid.structure)


def line_positions(mask: np.ndarray, axis: int, min_length: int, tolerance: int) -> list[int]:
    """Positions of ruling lines across `axis` (0: rows of horizontal lines, 1: columns of vertical).

    A line may be broken into several pieces (merged cells interrupt it); pieces at nearly the
    same position are one grid line, placed at their length-weighted mean.
    """
    count, _, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
    length_index = cv2.CC_STAT_WIDTH if axis == 0 else cv2.CC_STAT_HEIGHT
    pieces = [
        (float(centroids[i][1 - axis]), float(stats[i][length_index]))
        for i in range(1, count)
        if stats[i][length_index] >= min_length
    ]
    pieces.sort()
    positions: list[int] = []
    group: list[tuple[float, float]] = []
    for piece in pieces:
        if group and piece[0] - group[-1][0] > tolerance:
            positions.append(_weighted_mean(group))
            group = []
        group.append(piece)
    if group:
        positions.append(_weighted_mean(group))
    return positions


def _weighted_mean(group: list[tuple[float, float]]) -> int:
    total = sum(length for _, length in group)
    return round(sum(pos * length for pos, length in group) / total)


def grid_from_rulings(rulings: Rulings, dpi: int) -> Grid | None:
    """The grid of one table's rulings (coordinates local to the masks), or None if not a grid."""
    min_length = max(20, dpi // 8)
    tolerance = max(4, dpi // 25)
    ys = line_positions(rulings.horizontal, 0, min_length, tolerance)
    xs = line_positions(rulings.vertical, 1, min_length, tolerance)
    if len(xs) < 2 or len(ys) < 2:
        return None
    band = max(2, dpi // 60)
    vertical_present = _boundaries_present(rulings.vertical, xs, ys, band, vertical=True)
    horizontal_present = _boundaries_present(rulings.horizontal, ys, xs, band, vertical=False)
    xs, ys, vertical_present, horizontal_present = _drop_idle_lines(
        xs, ys, vertical_present, horizontal_present
    )
    cells = merge_cells(xs, ys, vertical_present, horizontal_present)
    return Grid(xs=xs, ys=ys, cells=cells)


def _boundaries_present(
    mask: np.ndarray, lines: list[int], spans: list[int], band: int, vertical: bool
) -> np.ndarray:
    """present[i, j]: is line i drawn along span j (between spans[j] and spans[j+1])?

    Drawn means ink of the line mask near the line over most of the span's length; the span's ends
    are left out since crossing lines put ink there anyway.
    """
    present = np.zeros((len(lines), len(spans) - 1), dtype=bool)
    for i, line in enumerate(lines):
        lo, hi = max(0, line - band), line + band + 1
        strip = mask[:, lo:hi] if vertical else mask[lo:hi, :]
        covered = strip.max(axis=1 if vertical else 0) > 0
        for j in range(len(spans) - 1):
            start, end = spans[j], spans[j + 1]
            inset = max(1, (end - start) // 8)
            segment = covered[start + inset : end - inset]
            present[i, j] = segment.size > 0 and segment.mean() >= 0.6
    return present


def _drop_idle_lines(
    xs: list[int], ys: list[int], vertical: np.ndarray, horizontal: np.ndarray
) -> tuple[list[int], list[int], np.ndarray, np.ndarray]:
    """Drop interior grid lines drawn nowhere (a stray stroke, not a ruling); their spans merge."""
    keep_x = [i for i in range(len(xs)) if i in (0, len(xs) - 1) or vertical[i].any()]
    keep_y = [i for i in range(len(ys)) if i in (0, len(ys) - 1) or horizontal[i].any()]
    if len(keep_x) == len(xs) and len(keep_y) == len(ys):
        return xs, ys, vertical, horizontal
    vertical = _merge_spans(vertical[keep_x], ys, keep_y)
    horizontal = _merge_spans(horizontal[keep_y], xs, keep_x)
    return [xs[i] for i in keep_x], [ys[i] for i in keep_y], vertical, horizontal


def _merge_spans(present: np.ndarray, spans: list[int], kept: list[int]) -> np.ndarray:
    """Re-express presence over the coarser spans between kept lines: drawn if drawn on all parts."""
    merged = np.zeros((present.shape[0], len(kept) - 1), dtype=bool)
    for j in range(len(kept) - 1):
        merged[:, j] = present[:, kept[j] : kept[j + 1]].all(axis=1)
    return merged


def merge_cells(xs: list[int], ys: list[int], vertical: np.ndarray, horizontal: np.ndarray) -> list[GridCell]:
    """Union elementary cells across missing rulings; each union's bounding grid rectangle is a cell."""
    n_rows, n_cols = len(ys) - 1, len(xs) - 1
    parent = list(range(n_rows * n_cols))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for r in range(n_rows):
        for c in range(n_cols):
            if c + 1 < n_cols and not vertical[c + 1, r]:
                parent[find(r * n_cols + c)] = find(r * n_cols + c + 1)
            if r + 1 < n_rows and not horizontal[r + 1, c]:
                parent[find(r * n_cols + c)] = find((r + 1) * n_cols + c)
    extents: dict[int, list[int]] = {}
    for r in range(n_rows):
        for c in range(n_cols):
            e = extents.setdefault(find(r * n_cols + c), [r, c, r, c])
            e[0], e[1], e[2], e[3] = min(e[0], r), min(e[1], c), max(e[2], r), max(e[3], c)
    return _rectangles_to_cells(xs, ys, extents.values())


def _rectangles_to_cells(xs: list[int], ys: list[int], extents: object) -> list[GridCell]:
    cells: list[GridCell] = []
    taken: set[tuple[int, int]] = set()
    for r0, c0, r1, c1 in sorted(extents, key=lambda e: (e[0], e[1])):  # type: ignore[call-overload]
        if (r0, c0) in taken:  # a non-rectangular union overlapping one already emitted
            continue
        taken.update((r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1))
        bbox = (xs[c0], ys[r0], xs[c1 + 1], ys[r1 + 1])
        cells.append(GridCell(r0, c0, r1 - r0 + 1, c1 - c0 + 1, bbox))
    return cells
