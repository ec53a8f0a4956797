"""Where every value sits: `provenance.field_locations` gives each field read its page and its box, as
fractions of that page, so a reviewer sees the value beside the scan."""

from __future__ import annotations

from functools import cache

import pytest

from scangen import ScanPage, scan_forms
from selfeval.contract import FieldLocation, Form, Record
from selfeval.contract.ocr import PageTables
from services.parser import parse_submission
from services.parser.reading import FieldSource, Place
from services.parser.submission import location_on
from services.scorer import score_record
from tests.conftest import REAL_FORMS, load_fixture
from tests.parser.truth_tables import page_tables

pytestmark = pytest.mark.unit

ONE_FORM_TWO_PAGES = 1
FIVE_PAGES = 7


@cache
def drawn(index: int) -> tuple[ScanPage, ...]:
    form: Form = load_fixture(REAL_FORMS[index]).form
    return tuple(scan_forms([form], quality="clean", dpi=150, seed=5))


def record_of(tables: PageTables) -> Record:
    (record,) = parse_submission(tables)
    return score_record(record)


def truth_boxes(pages: tuple[ScanPage, ...]) -> dict[str, FieldLocation]:
    """Each printed field's box from the generator's truth: the union of its cells on the page it
    starts on (a value a page break cut goes on at the top of the next page)."""
    found: dict[str, tuple[int, list[tuple[int, int, int, int]], int, int]] = {}
    for page in pages:
        truth = page.truth
        for cell in truth.cells:
            if cell.field is None:
                continue
            start = found.setdefault(cell.field, (truth.page, [], truth.width, truth.height))
            if start[0] == truth.page:
                start[1].append(cell.bbox)
    return {
        path: FieldLocation(
            page=number,
            box=(
                min(b[0] for b in boxes) / width,
                min(b[1] for b in boxes) / height,
                max(b[2] for b in boxes) / width,
                max(b[3] for b in boxes) / height,
            ),
        )
        for path, (number, boxes, width, height) in found.items()
    }


@pytest.mark.parametrize("index", [ONE_FORM_TWO_PAGES, FIVE_PAGES], ids=["two-pages", "five-pages"])
def test_every_printed_field_is_located_where_it_was_drawn(index: int) -> None:
    pages = drawn(index)
    locations = record_of(page_tables(pages)).provenance.field_locations
    expected = truth_boxes(pages)
    assert len(expected) > 60
    for path, truth in expected.items():
        assert path in locations, path
        assert locations[path].page == truth.page, path
        assert locations[path].box == pytest.approx(truth.box, abs=1e-4), path


def test_a_value_cut_by_a_page_break_is_located_where_it_begins() -> None:
    pages = drawn(FIVE_PAGES)
    cut = {
        cell.field: page.truth.page
        for page in pages
        for cell in page.truth.cells
        if cell.truncated and cell.field
    }
    assert cut, "the five-page form has a value cut by a page break"
    locations = record_of(page_tables(pages)).provenance.field_locations
    for path, page in cut.items():
        assert locations[path].page == page, path


@pytest.mark.parametrize("index", range(len(REAL_FORMS)))
def test_every_path_a_check_names_has_a_location(index: int) -> None:
    pages = drawn(index)
    record = record_of(page_tables(pages))
    numbers = {page.truth.page for page in pages}
    named = {path for check in record.checks for path in check.fields} - {"form.indicators"}
    assert "form.total_score" in named
    for path in named | {"form.year", "form.project_name", "form.department", "form.implementing_unit"}:
        location = record.provenance.field_locations.get(path)
        assert location is not None, path
        assert location.page in numbers
        x0, y0, x1, y1 = location.box
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1, path


def test_the_year_is_located_on_its_line_above_the_table() -> None:
    pages = drawn(ONE_FORM_TWO_PAGES)
    locations = record_of(page_tables(pages)).provenance.field_locations
    assert locations["form.year"].page == 1
    assert locations["form.year"].box[3] <= locations["form.project_name"].box[1]


def test_a_figure_with_no_cell_is_located_where_its_cell_would_be() -> None:
    """The 总分 row's 得分 cell lost (a seal over it, a broken ruling): the reviewer is still shown
    the spot in the 得分 column of the 总分 row."""
    pages = drawn(ONE_FORM_TWO_PAGES)
    tables = page_tables(pages)
    before = record_of(tables).provenance.field_locations["form.total_score"]
    page = tables.pages[before.page - 1]
    table = page.tables[0]
    table.cells = [
        cell for cell in table.cells if location_on(page, Place(page.number, cell.bbox)).box != before.box
    ]
    record = record_of(tables)
    assert record.form.total_score is None
    after = record.provenance.field_locations["form.total_score"]
    assert after.page == before.page
    assert after.box == pytest.approx(before.box, abs=2 / page.width)


def test_an_empty_cell_keeps_its_place() -> None:
    """A deviation reason left blank (nothing to explain) is still a place a rule can name."""
    pages = drawn(ONE_FORM_TWO_PAGES)
    record = record_of(page_tables(pages))
    blank = [i for i, indicator in enumerate(record.form.indicators) if indicator.deviation_reason is None]
    assert blank
    for index in blank:
        location = record.provenance.field_locations[f"form.indicators[{index}].deviation_reason"]
        score = record.provenance.field_locations[f"form.indicators[{index}].score"]
        assert location.page == score.page
        assert location.box[0] >= score.box[2] - 1e-4  # the column right of 得分, on the same row
        assert location.box[1] == pytest.approx(score.box[1], abs=1e-3)


def test_cells_joined_into_one_value_give_the_box_around_them_on_the_page_the_value_starts() -> None:
    source = FieldSource(
        "上海市某某单位",
        0.9,
        places=[Place(1, (100, 200, 300, 240)), Place(1, (300, 190, 500, 250)), Place(2, (0, 0, 900, 50))],
    )
    assert source.where() == Place(1, (100, 190, 500, 250))
    assert FieldSource("", None).where() is None


def test_a_box_drawn_past_the_page_edge_is_held_to_the_page() -> None:
    page = page_tables(drawn(ONE_FORM_TWO_PAGES)).pages[0]
    location = location_on(page, Place(1, (-3, 10, page.width + 2, page.height)))
    assert location.box[0] == 0 and location.box[2] == 1 and location.box[3] == 1
    assert location.box[1] == pytest.approx(10 / page.height, abs=1e-5)
