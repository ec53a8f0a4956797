"""Clean-up and grid recovery on generated scans, checked against the generator's truth."""

from __future__ import annotations

import numpy as np
import pytest

from scangen import ScanPage, Skew, degrade_page, render_forms, scan_forms
from scangen.render import RenderOptions
from services.ocr.cleanup import clean_page
from services.ocr.grid import find_grids, ruling_masks
from tests.conftest import REAL_FORMS, load_fixture

pytestmark = pytest.mark.unit

BBOX_TOLERANCE = 4  # pixels, after deskew


def bgr(page: ScanPage) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(page.image.convert("RGB"))[:, :, ::-1])


@pytest.mark.parametrize("quality", ["clean", "office"])
@pytest.mark.parametrize("form_index", [0, 4, 7])
def test_grid_matches_truth(quality: str, form_index: int) -> None:
    pages = scan_forms(
        [load_fixture(REAL_FORMS[form_index]).form], quality=quality, dpi=200, seed=2, classic=True
    )
    for page in pages:
        clean = clean_page(bgr(page), 200)
        grids = find_grids(ruling_masks(clean.ink, 200), 200)
        assert len(grids) == 1, f"page {page.truth.page}"
        got = {(c.row, c.col): c for c in grids[0].cells}
        want = {(c.row, c.col): c for c in page.truth.cells}
        assert got.keys() == want.keys(), f"page {page.truth.page}"
        for key, truth in want.items():
            cell = got[key]
            assert (cell.rowspan, cell.colspan) == (truth.rowspan, truth.colspan), key
            assert max(abs(a - b) for a, b in zip(cell.bbox, truth.bbox, strict=True)) <= BBOX_TOLERANCE, key


@pytest.mark.parametrize("angle", [-3.0, -1.7, -0.4, 0.8, 2.2, 3.0])
def test_deskew_recovers_the_turn(angle: float) -> None:
    page = render_forms([load_fixture(REAL_FORMS[1]).form], RenderOptions(dpi=200))[0]
    turned = degrade_page(page, [FixedSkew(angle)], seed=1)
    clean = clean_page(bgr(turned), 200)
    assert abs(clean.skew_degrees - angle) <= 0.3


def test_poor_scans_deskew_and_keep_their_grid() -> None:
    for page in scan_forms([load_fixture(REAL_FORMS[2]).form], quality="poor", dpi=200, seed=5, classic=True):
        applied = next(d["angle"] for d in page.truth.degradations if d["kind"] == "Skew")
        clean = clean_page(bgr(page), 200)
        assert abs(clean.skew_degrees - applied) <= 0.3
        grids = find_grids(ruling_masks(clean.ink, 200), 200)
        assert len(grids[0].cells) == len(page.truth.cells)


class FixedSkew(Skew):
    """The generator's Skew at exactly `angle` degrees instead of a random one."""

    def __init__(self, angle: float) -> None:
        super().__init__(max_degrees=abs(angle))
        object.__setattr__(self, "angle", angle)

    def apply(self, image, truth, rng):  # type: ignore[no-untyped-def]
        from PIL import Image

        turned = image.rotate(self.angle, resample=Image.Resampling.BICUBIC, fillcolor=(255, 255, 255))
        return turned, {"kind": "Skew", "angle": self.angle}


def test_strokes_of_a_row_of_characters_are_no_ruling() -> None:
    """The middle strokes of 基本 sit at nearly one height with a few pixels between characters: as
    long a run as the shortest ruling. In a cell, off the grid lines, they stay print."""
    dpi = 200
    ink = np.zeros((400, 800), np.uint8)
    for y in (50, 350):
        ink[y : y + 3, 50:750] = 255
    for x in (50, 400, 750):
        ink[50:353, x : x + 3] = 255
    strokes = [(80 + 28 * i, 200 + i % 2) for i in range(8)]  # 25 px each, 3 px apart, a pixel up and down
    for x, y in strokes:
        ink[y : y + 3, x : x + 25] = 255
    rulings = ruling_masks(ink, dpi)
    (grid,) = find_grids(rulings, dpi)
    taken = rulings.of_tables([grid])
    assert not taken[195:210, 60:390].any()
    assert taken[50:53, 60:740].all() and taken[350:353, 60:740].all()
