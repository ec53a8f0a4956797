"""Pages that were not flat on the glass: rulings that converge or bend are made straight again.

After the page is turned straight (`cleanup`), a page scanned at an angle to the glass (perspective)
or lifted near the binding (curl) still has rulings that converge or bow by several pixels across the
table, and a grid read by straight lines falls apart. The rulings themselves say how the page is bent:

- every long horizontal ruling is fitted with a smooth curve y(x); moving each to the height it has in
  the middle of the table, and the paper between two of them proportionally, makes them straight;
- the table's left and right borders are fitted with curves x(y); moving each row's pixels so both
  borders stand upright, proportionally between them, makes the columns straight.

Both are applied as one smooth remapping of the grey page and its ink. A page whose rulings are
already straight (within a couple of pixels) is left untouched, so a flat scan pays for the fits only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from services.ocr.cleanup import CleanPage
from services.ocr.grid import Rulings, ruling_masks

MIN_BEND_PX = 2.5
"""a ruling that strays less than this from a straight axis-parallel line needs no straightening"""
STEP = 8
"""the remapping is computed every STEP pixels and interpolated in between"""


@dataclass(frozen=True)
class Curve:
    """A ruling as a polynomial: y(x) for a horizontal one, x(y) for a vertical one, over [lo, hi]."""

    coefficients: np.ndarray
    lo: float
    hi: float

    def at(self, t: np.ndarray | float) -> np.ndarray:
        return np.polyval(self.coefficients, np.clip(t, self.lo, self.hi))

    def bend(self) -> float:
        """How far the curve strays from its value in the middle, at worst."""
        ts = np.linspace(self.lo, self.hi, 9)
        values = self.at(ts)
        return float(np.abs(values - self.at((self.lo + self.hi) / 2)).max())


def _fit(along: np.ndarray, across: np.ndarray, degree: int, max_residual: float) -> Curve | None:
    """A curve through one ruling's pixels (`across` as a function of `along`), or None if it is not
    one smooth line (two rulings joined by a stroke, a box)."""
    positions, inverse = np.unique(along, return_inverse=True)
    sums = np.bincount(inverse, weights=across)
    counts = np.bincount(inverse)
    centres = sums / counts
    if positions.size < 10:
        return None
    coefficients = np.polyfit(positions, centres, degree)
    residual = np.abs(np.polyval(coefficients, positions) - centres)
    if np.percentile(residual, 95) > max_residual:
        return None
    return Curve(coefficients, float(positions[0]), float(positions[-1]))


def horizontal_curves(mask: np.ndarray, min_length: int) -> list[Curve]:
    """Each horizontal ruling as y = f(x), a parabola, top to bottom."""
    curves = _ruling_curves(mask, min_length, along_x=True)
    return sorted(curves, key=lambda c: float(c.at((c.lo + c.hi) / 2)))


def vertical_curves(mask: np.ndarray, min_length: int) -> list[Curve]:
    """Each vertical ruling as x = f(y): a parabola when it is long, else a straight line."""
    return _ruling_curves(mask, min_length, along_x=False)


def _ruling_curves(mask: np.ndarray, min_length: int, along_x: bool) -> list[Curve]:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    curves = []
    for label in range(1, count):
        x, y, w, h, _ = stats[label]
        length = w if along_x else h
        if length < min_length:
            continue
        ys, xs = np.nonzero(labels[y : y + h, x : x + w] == label)
        xs, ys = (xs + x).astype(np.float64), (ys + y).astype(np.float64)
        degree = 2 if along_x or h > 4 * min_length else 1
        curve = _fit(xs, ys, degree, 3.0) if along_x else _fit(ys, xs, degree, 3.0)
        if curve is not None:
            curves.append(curve)
    return curves


def _border(curves: list[Curve], left: bool, slack: float) -> Curve | None:
    """One curve through every vertical ruling at the table's left (or right) edge."""
    if not curves:
        return None
    middles = np.array([float(c.at((c.lo + c.hi) / 2)) for c in curves])
    edge = middles.min() if left else middles.max()
    chosen = [c for c, m in zip(curves, middles, strict=True) if abs(m - edge) <= slack]
    along = np.concatenate([np.linspace(c.lo, c.hi, max(2, int(c.hi - c.lo) // 4)) for c in chosen])
    across = np.concatenate([c.at(np.linspace(c.lo, c.hi, max(2, int(c.hi - c.lo) // 4))) for c in chosen])
    if np.ptp(along) < 10:
        return None
    degree = 2 if np.ptp(along) > 600 else 1
    return Curve(np.polyfit(along, across, degree), float(along.min()), float(along.max()))


def _within(column: Curve, rows: list[Curve], slack: float) -> bool:
    """Whether a vertical ruling stands between the ends of the table's horizontal rulings (a stroke
    out in the margin, a scanner's edge, is no border of the table)."""
    if not rows:
        return False
    x = float(column.at((column.lo + column.hi) / 2))
    return min(r.lo for r in rows) - slack <= x <= max(r.hi for r in rows) + slack


@dataclass(frozen=True)
class TableShape:
    """The curves of a page's table: its long horizontal rulings and its left and right borders."""

    rows: list[Curve]
    left: Curve | None
    right: Curve | None

    @property
    def bend(self) -> float:
        """How far, at worst, a ruling strays from straight (rows) or upright (borders), in pixels."""
        curves = [*self.rows, *(border for border in (self.left, self.right) if border is not None)]
        return max((curve.bend() for curve in curves), default=0.0)


def table_shape(rulings: Rulings, width: int, dpi: int) -> TableShape:
    rows = horizontal_curves(rulings.horizontal, max(dpi, width // 4))
    columns = [c for c in vertical_curves(rulings.vertical, max(20, dpi // 4)) if _within(c, rows, dpi / 10)]
    return TableShape(rows, _border(columns, True, dpi / 10), _border(columns, False, dpi / 10))


def dewarp(clean: CleanPage, rulings: Rulings, dpi: int) -> tuple[CleanPage, Rulings]:
    """The page with its rulings straight, and its rulings found again; unchanged if they were."""
    height, width = clean.grey.shape
    shape = table_shape(rulings, width, dpi)
    if shape.bend < MIN_BEND_PX:
        return clean, rulings
    map_x, map_y = _source_maps(shape.rows, shape.left, shape.right, width, height)
    paper = {"borderMode": cv2.BORDER_CONSTANT}
    grey = cv2.remap(clean.grey, map_x, map_y, cv2.INTER_LINEAR, borderValue=255, **paper)
    ink = cv2.remap(clean.ink, map_x, map_y, cv2.INTER_LINEAR, borderValue=0, **paper)
    ink = np.where(ink >= 128, np.uint8(255), np.uint8(0))
    return replace(clean, grey=grey, ink=ink), ruling_masks(ink, dpi)


def _source_maps(
    rows: list[Curve], left: Curve | None, right: Curve | None, width: int, height: int
) -> tuple[np.ndarray, np.ndarray]:
    """For every pixel of the straightened page, where to take it from on the scan (float32 maps).

    The two corrections are small (a few pixels), so each is computed on the other's coordinates as
    they are after straightening.
    """
    ys = np.arange(height, dtype=np.float64)
    columns = np.arange(0, width + STEP, STEP, dtype=np.float64)
    # Rows: each horizontal ruling goes to its height in the middle of its own run; the paper between
    # two rulings in proportion, beyond the outer ones shifted as the outer one is.
    coarse_y = np.tile(ys[:, None], (1, columns.size))
    if rows:
        targets = np.array([float(c.at((c.lo + c.hi) / 2)) for c in rows])
        order = np.argsort(targets)
        for j, x in enumerate(columns):
            t = targets[order]
            s = np.array([float(rows[k].at(x)) for k in order])
            keep = np.concatenate([[True], np.diff(s) > 0])  # rulings never cross
            t, s = t[keep], s[keep]
            coarse_y[:, j] = np.interp(ys, t, s)
            above, below = ys < t[0], ys > t[-1]
            coarse_y[above, j] = ys[above] + (s[0] - t[0])
            coarse_y[below, j] = ys[below] + (s[-1] - t[-1])
    position = np.arange(width, dtype=np.float64) / STEP
    first = np.minimum(position.astype(np.int64), columns.size - 2)
    weight = position - first
    map_y = coarse_y[:, first] * (1 - weight) + coarse_y[:, first + 1] * weight
    # Columns: in every row the borders go upright, the paper between them in proportion.
    xs = np.arange(width, dtype=np.float64)
    map_x = np.tile(xs[None, :], (height, 1))
    if left is not None and right is not None:
        middle = (max(left.lo, right.lo) + min(left.hi, right.hi)) / 2
        target_left, target_right = float(left.at(middle)), float(right.at(middle))
        if target_right - target_left > 100:
            row_left, row_right = left.at(ys), right.at(ys)
            scale = (row_right - row_left) / (target_right - target_left)
            map_x = row_left[:, None] + (xs[None, :] - target_left) * scale[:, None]
    return map_x.astype(np.float32), map_y.astype(np.float32)
