"""A page not flat on the glass (perspective, curl) gets straight rulings, and so a whole grid."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from scangen import scan_forms
from scangen.fixtures import REAL_FORMS, load_fixture
from services.ocr.cleanup import CleanPage, clean_page
from services.ocr.dewarp import dewarp, table_shape
from services.ocr.grid import find_grids, ruling_masks

pytestmark = pytest.mark.unit

FORM = load_fixture(REAL_FORMS[1]).form
DPI = 200


def first_page(**look: Any) -> tuple[CleanPage, Any]:
    page = scan_forms([FORM], quality="office", dpi=DPI, seed=2, seal="none", signature=False, **look)[0]
    bgr = np.ascontiguousarray(np.array(page.image.convert("RGB"))[:, :, ::-1])
    return clean_page(bgr, DPI), page.truth


def worst_bend(clean: CleanPage) -> float:
    """How far the rows stray from straight and the table's borders from upright, at worst."""
    return table_shape(ruling_masks(clean.ink, DPI), clean.grey.shape[1], DPI).bend


def truth_grid(truth: Any) -> tuple[int, int]:
    return max(c.row + c.rowspan for c in truth.cells), max(c.col + c.colspan for c in truth.cells)


@pytest.mark.parametrize(
    "warp",
    [
        {"perspective": 0.05},
        {"curl": 1.0, "curl_edge": "left"},
        {"perspective": 0.02, "curl": 0.6, "skew_degrees": 2.5},
    ],
)
def test_bent_rulings_come_out_straight_and_the_grid_whole(warp: dict[str, float]) -> None:
    clean, truth = first_page(**warp)
    rulings = ruling_masks(clean.ink, DPI)
    before = worst_bend(clean)
    straight, straight_rulings = dewarp(clean, rulings, DPI)
    after = worst_bend(straight)
    print(f"\n{warp}: worst ruling bend {before:.1f} px before, {after:.1f} px after")
    assert before > 4
    assert after < 2.5
    grids = find_grids(straight_rulings, DPI)
    assert len(grids) == 1
    assert (grids[0].n_rows, grids[0].n_cols) == truth_grid(truth)


def test_a_flat_page_is_left_as_it_is() -> None:
    clean, _ = first_page(perspective=0.0, curl=0.0)
    rulings = ruling_masks(clean.ink, DPI)
    same, same_rulings = dewarp(clean, rulings, DPI)
    assert same is clean and same_rulings is rulings
