"""The parser reads every field of rendered forms exactly, given what was printed in each cell."""

from __future__ import annotations

import pytest

from scangen import ScanPage, random_form, scan_forms
from scangen.compare import field_differences
from selfeval.contract import CheckStatus, Form, Record, Status
from services.parser import parse_submission
from services.scorer import score_record
from tests.conftest import REAL_FORMS, load_fixture
from tests.parser.truth_tables import page_tables

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def real_forms() -> list[Form]:
    return [load_fixture(path).form for path in REAL_FORMS]


@pytest.fixture(scope="module")
def all_real_forms_in_one_pdf(real_forms: list[Form]) -> list[Record]:
    # Drawn layouts vary text sizes and column widths, so page breaks fall anywhere: through an
    # indicator's cells, and through the indicator table's header row (一级 | 指标).
    return parse_submission(page_tables(scan_forms(real_forms, quality="clean", dpi=150, seed=3)))


def test_one_record_per_form_in_a_multi_form_submission(all_real_forms_in_one_pdf: list[Record]) -> None:
    assert len(all_real_forms_in_one_pdf) == 8
    pages = [page for record in all_real_forms_in_one_pdf for page in record.submission.pages]
    assert pages == sorted(pages) == list(range(1, len(pages) + 1))
    assert any(len(record.submission.pages) > 1 for record in all_real_forms_in_one_pdf)


@pytest.mark.parametrize("index", range(8), ids=lambda i: f"form_{i + 1:02d}")
def test_every_field_of_a_real_form_exact(
    index: int, real_forms: list[Form], all_real_forms_in_one_pdf: list[Record]
) -> None:
    record = all_real_forms_in_one_pdf[index]
    assert field_differences(record.form, real_forms[index]) == []
    scored = score_record(record)
    assert scored.status is Status.verified, scored.reason


@pytest.mark.parametrize("seed", range(12))
def test_random_variants_exact(seed: int) -> None:
    form = random_form(seed)
    pages = scan_forms([form], quality="clean", dpi=150, seed=seed)
    (record,) = parse_submission(page_tables(pages))
    assert field_differences(record.form, form) == []
    assert score_record(record).status is Status.verified


def test_labels_matched_are_reported_with_scores(all_real_forms_in_one_pdf: list[Record]) -> None:
    labels = all_real_forms_in_one_pdf[0].provenance.model_extra["labels"]  # type: ignore[index]
    assert labels["form.funding.total"]["label"] == "年度资金总额"
    assert labels["form.funding.total"]["score"] == 100.0


def test_raw_text_kept_beside_values(real_forms: list[Form]) -> None:
    (record,) = parse_submission(
        page_tables(scan_forms([real_forms[4]], quality="clean", dpi=150, seed=1, thousands=True))
    )
    raw = record.provenance.model_extra["raw_text"]  # type: ignore[index]
    assert record.form.funding.total.initial_budget is not None
    assert str(record.form.funding.total.initial_budget) == "3900.00"
    assert raw["form.funding.total.initial_budget"] == "3,900.00"


def test_confidence_flows_into_the_record(real_forms: list[Form]) -> None:
    tables = page_tables(scan_forms([real_forms[1]], quality="clean", dpi=150, seed=1))
    cell = next(c for c in tables.pages[0].tables[0].cells if c.text == "98.15" or c.text == "100.00")
    cell.confidence = 0.42
    (record,) = parse_submission(tables)
    low = [c for c in record.checks if c.rule == "field_confidence"]
    assert low and all(c.status is CheckStatus.failed for c in low)
    assert "0.42" in low[0].message
    assert score_record(record).status is Status.needs_review


def test_a_doubtful_name_is_a_warning_not_a_block(real_forms: list[Form]) -> None:
    tables = page_tables(scan_forms([real_forms[1]], quality="clean", dpi=150, seed=1))
    name = real_forms[1].indicators[0].name
    cell = next(c for c in tables.pages[0].tables[0].cells if c.text == name)
    cell.confidence = 0.30
    (record,) = parse_submission(tables)
    (low,) = [c for c in record.checks if c.rule == "field_confidence"]
    assert low.severity.value == "warning" and low.fields == ["form.indicators[0].name"]
    assert score_record(record).status is Status.verified


def test_unreadable_number_needs_review_naming_the_field(real_forms: list[Form]) -> None:
    tables = page_tables(scan_forms([real_forms[2]], quality="clean", dpi=150, seed=1))
    cell = next(c for c in tables.pages[0].tables[0].cells if c.text == "17.99")
    cell.text = "1?.99"
    (record,) = parse_submission(tables)
    unreadable = [c for c in record.checks if c.rule == "field_readable"]
    assert unreadable and unreadable[0].fields == ["form.funding.total.executed"]
    scored = score_record(record)
    assert scored.status is Status.needs_review and "field_readable" in (scored.reason or "")


def test_a_page_without_a_form_is_rejected(real_forms: list[Form]) -> None:
    tables = page_tables(scan_forms([real_forms[1]], quality="clean", dpi=150, seed=1))
    tables.pages[0].free_lines = []
    tables.pages[0].tables[0].cells = [c for c in tables.pages[0].tables[0].cells if c.row > 0]
    (record,) = parse_submission(tables)
    assert record.status is Status.rejected and "title" in (record.reason or "")


def test_a_form_whose_title_the_scan_lost_is_known_by_its_first_row(real_forms: list[Form]) -> None:
    tables = page_tables(scan_forms([real_forms[1]], quality="clean", dpi=150, seed=1))
    first = tables.pages[0]
    first.free_lines = [line for line in first.free_lines if "自评表" not in line.text]
    assert first.free_lines, "the year line stays"
    (record,) = parse_submission(tables)
    assert record.status is not Status.rejected
    assert field_differences(record.form, real_forms[1]) == []


def test_rows_split_by_page_breaks_are_joined_back(real_forms: list[Form]) -> None:
    pages = scan_forms(real_forms, quality="clean", dpi=150, seed=3, classic=True)
    continued = {
        (page.truth.form_index, cell.field.split(".")[1].split("[")[0])
        for page in pages
        for cell in page.truth.cells
        if cell.continued and cell.field
    }
    # The rendered set has continuation rows of both kinds: a naive reader would make extra rows of them.
    assert {kind for _, kind in continued} >= {"indicators", "goals"}
    records = parse_submission(page_tables(pages))
    for form_index, kind in continued:
        assert len(getattr(records[form_index].form, kind)) == len(getattr(real_forms[form_index], kind))


def _indicator_column(pages: list[ScanPage], field_end: str) -> int:
    """The grid column an indicator field (".weight", ".name", …) is drawn in."""
    return next(
        cell.col
        for page in pages
        for cell in page.truth.cells
        if cell.field and cell.field.startswith("form.indicators[") and cell.field.endswith(field_end)
    )


def _cut_indicator_row(pages: list[ScanPage], with_name: bool) -> tuple[int, int, int]:
    """(page index, grid row, form index) of the first indicator row a page break cut whose part on
    the later page has some of the name (or none of it)."""
    name_column = _indicator_column(pages, ".name")

    def has_name(page_index: int, row: int) -> bool:
        return any(c.text for c in pages[page_index].truth.cells if c.row == row and c.col == name_column)

    return next(
        (i, cell.row, page.truth.form_index)
        for i, page in enumerate(pages)
        for cell in page.truth.cells
        if cell.continued
        and cell.field
        and cell.field.startswith("form.indicators[")
        and has_name(i, cell.row) is with_name
    )


def test_a_seals_letters_where_a_cut_rows_figures_go_make_no_indicator(real_forms: list[Form]) -> None:
    """A seal over a row a page break cut (its name ended on the page before) leaves letters, no
    digits, in its weight cell: the row still carries on the indicator above instead of starting one."""
    pages = scan_forms(real_forms, quality="clean", dpi=150, seed=3, classic=True)
    tables = page_tables(pages)
    page_index, row, form_index = _cut_indicator_row(pages, with_name=False)
    (table,) = tables.pages[page_index].tables
    weight_column = _indicator_column(pages, ".weight")
    weight = next(cell for cell in table.cells if cell.row == row and cell.col == weight_column)
    assert weight.text == ""
    weight.text, weight.confidence = "i.比个", 0.6

    records = parse_submission(tables)
    assert len(records[form_index].form.indicators) == len(real_forms[form_index].indicators)


def test_a_seals_letters_beside_the_rest_of_a_cut_name_make_no_indicator(real_forms: list[Form]) -> None:
    """The row a page break cut opens the next page with the rest of its name, and a seal leaves
    letters, no digits, where its figures go: it still carries on the indicator above."""
    pages = scan_forms(real_forms, quality="clean", dpi=150, seed=3, classic=True)
    tables = page_tables(pages)
    page_index, row, form_index = _cut_indicator_row(pages, with_name=True)
    (table,) = tables.pages[page_index].tables
    assert min(cell.row for cell in table.cells) == row, "the cut row opens its page"
    score_column = _indicator_column(pages, ".score")
    score = next(cell for cell in table.cells if cell.row == row and cell.col == score_column)
    assert score.text == ""
    score.text, score.confidence = "技术", 0.9

    records = parse_submission(tables)
    form = records[form_index].form
    assert len(form.indicators) == len(real_forms[form_index].indicators)
    names = [indicator.name for indicator in form.indicators]
    assert names == [indicator.name for indicator in real_forms[form_index].indicators]
