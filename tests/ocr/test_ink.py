"""The ink map keeps what a person sees as print, at its true width, and nothing else."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from services.ocr.cleanup import clean_page, drop_colour_ink, is_dithered, without_border_bands
from services.ocr.grid import find_grids, ruling_masks

pytestmark = pytest.mark.unit

DPI = 200


def paper(seed: int = 0, level: float = 238.0, noise: float = 3.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(level, noise, (800, 600)), 0, 255)


def as_bgr(grey: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.clip(grey, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)


def with_print(page: np.ndarray) -> np.ndarray:
    """Some ordinary dark print, so the page has an ink level of its own."""
    for row in range(5):
        cv2.putText(page, "TOTAL 2024", (40, 80 + 60 * row), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 30, 3)
    return page


def test_a_thin_faint_stroke_is_ink_and_paper_noise_is_not() -> None:
    page = with_print(paper())
    page[600, 100:500] = 175  # a hairline of a 宋体 figure at 200 dpi: one pixel, light grey
    page[650:700, 300] = 175
    ink = clean_page(as_bgr(page), DPI).ink > 0
    assert ink[598:603, 110:490].any(axis=0).mean() > 0.95
    assert ink[655:695, 298:303].any(axis=1).mean() > 0.95
    blank = ink[720:790, 20:580]
    assert blank.sum() == 0


def test_light_print_on_a_grainy_page_is_ink_and_the_grain_is_not() -> None:
    # A poor scan: coarse grain (blotches, not single pixels) and figures printed light grey beside
    # black print, so the half-way level between paper and ink is darker than the figures' strokes.
    rng = np.random.default_rng(3)
    grain = cv2.GaussianBlur(rng.normal(0, 30, (800, 600)), (0, 0), 1.2)
    page = with_print(np.full((800, 600), 243.0))
    figures = np.full((800, 600), 255, np.uint8)
    for row in range(3):
        cv2.putText(figures, "0.00  3.31", (60, 560 + 70 * row), cv2.FONT_HERSHEY_SIMPLEX, 1.1, 0, 2)
    page = np.where(figures < 128, 160.0, page)
    page = cv2.GaussianBlur(page, (0, 0), 0.8) + grain
    ink = clean_page(as_bgr(page), DPI).ink > 0
    strokes = cv2.dilate((figures < 128).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert (ink & (figures < 128)).sum() > 0.6 * (figures < 128).sum()
    assert (ink[400:] & ~strokes[400:]).sum() < 0.01 * (figures < 128).sum()


def test_bold_print_keeps_its_width_and_not_its_blur() -> None:
    page = with_print(paper())
    page[600:606, 100:500] = 20  # a 6-pixel bar
    page = cv2.GaussianBlur(page.astype(np.float32), (0, 0), 1.2)
    ink = clean_page(as_bgr(page), DPI).ink > 0
    thickness = ink[580:630, 200:400].sum(axis=0)
    assert np.all(np.abs(thickness - 6) <= 1), set(thickness.tolist())


def test_red_and_blue_ink_fade_and_black_print_over_them_stays() -> None:
    page = as_bgr(with_print(paper()))
    cv2.circle(page, (300, 600), 120, (40, 40, 210), 12)  # a red ring (BGR)
    cv2.line(page, (100, 700), (500, 720), (200, 60, 40), 4)  # blue pen
    cv2.line(page, (150, 600), (450, 600), (20, 20, 20), 4)  # black print across the ring
    grey = drop_colour_ink(page)
    assert grey[600 - 120, 300] > 230 and grey[710, 300] > 230
    assert grey[600, 180] < 60  # where the black line crosses the ring


def test_the_scanner_edge_along_the_border_is_not_ink() -> None:
    page = with_print(paper())
    page[:, :14] = 120  # the lid's shadow down the left edge
    ink = np.where(clean_page(as_bgr(page), DPI).ink > 0, np.uint8(255), np.uint8(0))
    assert not (without_border_bands(ink)[:, :20] > 0).any()
    assert (without_border_bands(ink)[60:400, 30:400] > 0).any()  # the print stays


def dithered(grey: np.ndarray) -> np.ndarray:
    """The page as a scanner in black-and-white photo mode writes it: every grey drawn as dots."""
    from PIL import Image

    return np.asarray(Image.fromarray(grey.astype(np.uint8)).convert("1").convert("L"))


def thresholded(grey: np.ndarray) -> np.ndarray:
    return np.where(grey < 128, np.uint8(0), np.uint8(255))


def test_a_dithered_black_and_white_page_is_told_from_a_thresholded_one() -> None:
    page = with_print(paper(level=247.0))
    assert is_dithered(dithered(page))
    assert not is_dithered(thresholded(page))


@pytest.mark.parametrize("scan", [dithered, thresholded])
def test_black_and_white_paper_is_not_ink_and_print_is(scan: object) -> None:
    page = with_print(paper(level=247.0))  # near-white paper: dithered, a field of lone dots (~3 %)
    bilevel = scan(page)  # type: ignore[operator]
    ink = clean_page(as_bgr(bilevel), DPI).ink > 0
    assert ink[720:790, 20:580].sum() == 0  # blank paper under the print
    printed = page < 128
    assert (ink & printed).sum() > 0.8 * printed[:400].sum()


def lid_shadowed(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A page whose lower half darkens towards the edge, as the lid's shadow does, with print in it; and
    how deep the shadow is on each row."""
    page = with_print(paper(seed, level=247.0))
    for row in range(2):
        cv2.putText(page, "TOTAL 2024", (40, 560 + 80 * row), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 30, 3)
    depth = np.clip((np.arange(page.shape[0]) - 450) / 350, 0, 1)[:, None]
    shade = 247 - 100 * depth + np.random.default_rng(seed + 1).normal(0, 30, page.shape) * depth
    return np.where(page < 128, page, np.minimum(page, shade)), np.broadcast_to(depth, page.shape)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_thresholded_lid_shadow_leaves_its_print_and_not_its_specks(seed: int) -> None:
    page, depth = lid_shadowed(seed)
    bilevel = thresholded(page)  # the shadow's grain, cut at the threshold: a field of specks and clumps
    field = depth > 0.3
    assert (bilevel[field] < 128).mean() > 0.05
    ink = clean_page(as_bgr(bilevel), DPI).ink > 0
    printed = page < 60
    beside_print = cv2.dilate(printed.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    assert (ink & field & ~beside_print).sum() < 0.01 * field.sum()  # a page without the fix: 9 %
    assert (ink & printed)[500:].sum() > 0.95 * printed[500:].sum()  # print in the shadow
    assert (ink & printed)[:400].sum() > 0.95 * printed[:400].sum()  # print above it


def edge_shadowed(seed: int) -> np.ndarray:
    """A ruled table whose left border runs into a lid's shadow that deepens to black at the page's
    left edge, as a page not flat on the glass shows it."""
    page = paper(seed, level=247.0)
    for y in range(100, 701, 100):
        page[y - 1 : y + 2, 40:561] = 30
    for x in (40, 320, 560):
        page[100:701, x - 1 : x + 2] = 30
    depth = np.clip((130 - np.arange(page.shape[1])) / 130, 0, 1)[None, :]
    shade = 247 - 190 * depth + np.random.default_rng(seed + 1).normal(0, 30, page.shape) * depth
    return np.where(page < 128, page, np.minimum(page, shade))


@pytest.mark.parametrize("seed", [0, 1])
def test_a_deep_edge_shadow_joined_to_the_table_is_no_ink_and_makes_no_rulings(seed: int) -> None:
    bilevel = thresholded(edge_shadowed(seed))
    assert (bilevel[:, :40] < 128).mean() > 0.9  # near black, and touching the table's left border
    ink = clean_page(as_bgr(bilevel), DPI).ink
    assert not ink[:, :30].any()
    (grid,) = find_grids(ruling_masks(ink, DPI), DPI)  # a page without the fix: no grid, or a row or two
    assert grid.n_rows == 6
