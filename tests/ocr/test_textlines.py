"""Text lines from ink blobs: which blobs a line is read from."""

from __future__ import annotations

import numpy as np
import pytest

from services.ocr.textlines import Blobs, LineBox, find_blobs, without_faint_blobs

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
