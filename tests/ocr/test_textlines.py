"""Text lines from ink blobs: which blobs a line is read from."""

from __future__ import annotations

import numpy as np
import pytest

from services.ocr.textlines import (
    Blobs,
    LineBox,
    find_blobs,
    joined_where_widened,
    over_faint_print,
    page_print_darkness,
    rows_darkness,
    without_faint_blobs,
    without_faint_rows,
)

pytestmark = pytest.mark.unit


def line_of(grey: np.ndarray) -> tuple[LineBox, Blobs]:
    """Every blob of the page as one line (as a row grows when mottle overlaps it from above and below)."""
    ink = np.where(grey < 240, np.uint8(255), np.uint8(0))
    blobs = find_blobs(ink, np.zeros_like(ink), 200)
    labels = [int(label) for label in range(1, len(blobs.boxes))]
    boxes = blobs.boxes[labels]
    box = (int(boxes[:, 0].min()), int(boxes[:, 1].min()), int(boxes[:, 2].max()), int(boxes[:, 3].max()))
    return LineBox(box, labels), blobs


def page_with(*marks: tuple[int, int, int, int, int]) -> np.ndarray:
    grey = np.full((120, 300), 255, dtype=np.uint8)
    for x0, y0, x1, y1, level in marks:
        grey[y0:y1, x0:x1] = level
    return grey


CHARACTER = (140, 50, 160, 75, 40)  # a dark character
MOTTLE = [(60, 10, 80, 14, 205), (200, 30, 215, 34, 215), (100, 90, 120, 95, 200)]  # a seal's, faint


def test_mottle_far_fainter_than_a_lines_print_leaves_the_line() -> None:
    grey = page_with(CHARACTER, *MOTTLE)
    line, blobs = line_of(grey)
    narrowed = without_faint_blobs(line, blobs, grey)
    assert narrowed is not None
    assert narrowed.box == (140, 50, 160, 75)
    assert len(narrowed.labels) == 1


@pytest.mark.parametrize(
    "marks",
    [
        # print all as faint as another (a light scan): nothing is dropped
        [(140, 50, 160, 75, 150), (170, 50, 190, 75, 170), (200, 50, 220, 75, 160)],
        # a thin stroke of the print, lighter than its character but well past half way to black
        [CHARACTER, (165, 60, 185, 62, 120)],
    ],
)
def test_print_is_never_taken_for_mottle(marks: list[tuple[int, int, int, int, int]]) -> None:
    grey = page_with(*marks)
    line, blobs = line_of(grey)
    assert without_faint_blobs(line, blobs, grey) is None


def test_a_dot_hanging_below_the_lines_box_is_judged_by_its_own_pixels() -> None:
    # A 。 attached to a row may hang below the row's box (the box grows sideways only).
    grey = page_with(CHARACTER, (165, 80, 170, 85, 30), *MOTTLE)
    line, blobs = line_of(grey)
    line.box = (line.box[0], 50, line.box[2], 75)
    narrowed = without_faint_blobs(line, blobs, grey)
    assert narrowed is not None and len(narrowed.labels) == 2


def faint_page(*marks: tuple[int, int, int, int, int]) -> tuple[np.ndarray, Blobs]:
    """A page whose ink map holds only the marks darker than 140: lighter print is grey alone."""
    grey = page_with(*marks)
    ink = np.where(grey < 140, np.uint8(255), np.uint8(0))
    return grey, find_blobs(ink, np.zeros_like(ink), 200)


def the_line(blobs: Blobs, x0: int, x1: int) -> LineBox:
    labels = [label for label in range(1, len(blobs.boxes)) if x0 <= blobs.boxes[label, 0] < x1]
    boxes = blobs.boxes[labels]
    box = (int(boxes[:, 0].min()), int(boxes[:, 1].min()), int(boxes[:, 2].max()), int(boxes[:, 3].max()))
    return LineBox(box, labels)


CELL = (0, 0, 300, 120)
DIGIT = 12  # a digit's width; digits 4 pixels apart, 25 tall


def digits(x: int, *levels: int) -> list[tuple[int, int, int, int, int]]:
    return [
        (x + i * (DIGIT + 4), 50, x + i * (DIGIT + 4) + DIGIT, 75, level) for i, level in enumerate(levels)
    ]


def test_print_too_faint_for_the_ink_map_beside_a_line_is_read_with_it() -> None:
    # 0.00 with its first 0 too faint for the ink map (150): the line is the 00 alone until widened.
    grey, blobs = faint_page(*digits(100, 150, 120, 120))
    line = the_line(blobs, 110, 300)
    assert line.box[0] == 116
    assert over_faint_print(line, blobs, grey, CELL, []).box == (100, 50, 144, 75)


def test_faint_print_beside_a_light_line_is_judged_by_the_lines_own_print() -> None:
    # A pale scan: the 00 at grey 130, its first 0 at 185, lighter than faint print on a page of dark
    # print yet well within half way from the line's own print to paper.
    grey, blobs = faint_page(*digits(100, 185, 130, 130))
    line = the_line(blobs, 110, 300)
    assert over_faint_print(line, blobs, grey, CELL, []).box == (100, 50, 144, 75)
    # The same grey beside dark print is no print of it (a dropped seal's remnant).
    grey, blobs = faint_page(*digits(100, 185, 40, 40))
    line = the_line(blobs, 110, 300)
    assert over_faint_print(line, blobs, grey, CELL, []).box == line.box


def test_faint_print_is_reached_across_a_decimal_points_gap() -> None:
    # 0.00 whose 0 and point are too faint for the ink map: 18 pixels of paper (0.7 of the line's
    # height) between the 0 and the 00, the faint point too light to count on.
    grey, blobs = faint_page((100, 50, 112, 75, 150), (130, 50, 142, 75, 120), (146, 50, 158, 75, 120))
    line = the_line(blobs, 120, 300)
    assert over_faint_print(line, blobs, grey, CELL, []).box == (100, 50, 158, 75)


@pytest.mark.parametrize(
    ("beside", "why"),
    [
        ((70, 50, 82, 75, 205), "lighter than faint print: what a dropped seal's colour leaves"),
        ((70, 50, 82, 75, 190), "past half way from the line's print to paper"),
        ((70, 50, 82, 75, 20), "darker, yet no ink: taken out of the ink map on purpose"),
        ((70, 60, 82, 64, 150), "a speck, not half a line tall"),
        ((40, 50, 52, 75, 150), "too far: beyond the gap within a line"),
    ],
)
def test_a_line_is_not_widened_over_what_is_no_print_of_it(beside: tuple[int, ...], why: str) -> None:
    grey, blobs = faint_page(*digits(100, 120, 120), beside)  # type: ignore[arg-type]
    line = the_line(blobs, 100, 300)
    assert over_faint_print(line, blobs, grey, CELL, []).box == line.box, why


def test_a_line_is_widened_no_further_than_its_cell_and_the_lines_beside_it() -> None:
    grey, blobs = faint_page(*digits(100, 150, 150, 120, 120))
    line = the_line(blobs, 130, 300)
    assert over_faint_print(line, blobs, grey, CELL, []).box[0] == 100
    assert over_faint_print(line, blobs, grey, (110, 0, 300, 120), []).box[0] == 110  # the cell's edge
    other = (95, 50, 113, 75)  # a line of its own there, the first faint digit its own
    assert over_faint_print(line, blobs, grey, CELL, [other]).box[0] == 116


def test_pieces_a_widening_brings_near_are_one_line() -> None:
    # 180.00 whose 80 the ink map lost: pieces 1 and .00 far apart, the 1 widened over the 80 up to
    # a decimal point's gap from the .00. A piece nobody widened stays apart whatever the gap.
    one, rest = LineBox((100, 50, 106, 75), [1]), LineBox((140, 50, 170, 75), [2])
    widened = [LineBox((100, 50, 130, 75), [1]), rest]
    (joined,) = joined_where_widened([one, rest], widened)
    assert joined.box == (100, 50, 170, 75) and joined.labels == [1, 2]
    apart = [LineBox((100, 50, 130, 75), [1]), rest]
    assert joined_where_widened(apart, apart) == apart


def rows_of(grey: np.ndarray) -> tuple[list[list[LineBox]], Blobs]:
    """Each blob of the page a row of its own, top to bottom."""
    ink = np.where(grey < 240, np.uint8(255), np.uint8(0))
    blobs = find_blobs(ink, np.zeros_like(ink), 200)
    rows = [
        [LineBox(tuple(int(v) for v in blobs.boxes[label, :4]), [label])]  # type: ignore[arg-type]
        for label in sorted(range(1, len(blobs.boxes)), key=lambda label: blobs.boxes[label, 1])
    ]
    return rows, blobs


def test_a_row_far_fainter_than_its_cells_print_is_dropped() -> None:
    # A seal's pale serial number (darkest 180) above a cell's figure (darkest 0): 26 + 358.90.
    grey = page_with((100, 10, 130, 25, 180), (100, 60, 180, 85, 0))
    rows, blobs = rows_of(grey)
    kept = without_faint_rows(rows, rows_darkness(rows, blobs, grey, 25))
    assert [row[0].box for row in kept] == [(100, 60, 180, 85)]


@pytest.mark.parametrize(
    "marks",
    [
        # a light scan: every row of the cell as faint as the other
        [(100, 10, 130, 25, 170), (100, 60, 180, 85, 150)],
        # a row lighter than the other, but well past half way to black
        [(100, 10, 130, 25, 110), (100, 60, 180, 85, 0)],
        # one row alone, however faint: nothing in the cell to judge it by
        [(100, 10, 130, 25, 200)],
        # light print (darkest 150) beside a scanner's black speck: a speck is no measure of the print
        [(100, 10, 103, 13, 0), (100, 60, 180, 85, 150)],
    ],
)
def test_a_cells_print_rows_are_kept(marks: list[tuple[int, int, int, int, int]]) -> None:
    grey = page_with(*marks)
    rows, blobs = rows_of(grey)
    assert without_faint_rows(rows, rows_darkness(rows, blobs, grey, 25)) == rows


def test_a_speck_on_a_row_is_no_measure_of_its_print() -> None:
    # 项目 over 名称 in light print (150), with a scanner's black dot on the 名称 row: both rows stay.
    grey = page_with((100, 10, 130, 25, 150), (100, 60, 130, 85, 150), (135, 70, 138, 73, 0))
    rows, blobs = rows_of(grey)
    top, bottom, speck = (row[0] for row in sorted(rows, key=lambda row: row[0].box[0] + row[0].box[1]))
    on_a_row = [[top], [LineBox((100, 60, 138, 85), bottom.labels + speck.labels)]]
    assert without_faint_rows(on_a_row, rows_darkness(on_a_row, blobs, grey, 25)) == on_a_row


def test_a_cells_only_row_far_fainter_than_the_pages_print_is_dropped() -> None:
    # The pale edges of a dropped red seal's letters alone in a cell (darkest 186) on a page whose
    # print is black: the recogniser reads them as 'ダア' in a score cell.
    grey = page_with((100, 10, 160, 35, 186))
    rows, blobs = rows_of(grey)
    assert without_faint_rows(rows, rows_darkness(rows, blobs, grey, 25), page_print=15) == []


@pytest.mark.parametrize(
    ("level", "page_print"),
    [(170, 150), (110, 0)],  # a light page's print; a lighter row well past half way to black
)
def test_a_cells_only_row_of_print_is_kept(level: int, page_print: int) -> None:
    grey = page_with((100, 10, 160, 35, level))
    rows, blobs = rows_of(grey)
    assert without_faint_rows(rows, rows_darkness(rows, blobs, grey, 25), page_print=page_print) == rows


def test_a_pages_print_is_as_dark_as_its_middle_cell() -> None:
    grey = page_with(
        (10, 10, 40, 35, 0), (60, 10, 90, 35, 20), (110, 10, 140, 35, 40), (160, 10, 190, 35, 190)
    )
    rows, blobs = rows_of(grey)
    cells = [[row] for row in rows]  # each mark a cell of its own
    assert page_print_darkness(rows_darkness(cell, blobs, grey, 25) for cell in cells) == 30
    assert page_print_darkness([]) is None
