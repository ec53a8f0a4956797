"""What OCR leaves in a cell besides its value: a signature beside the grade, a figure that cannot be
read. The first must not cost the grade; the second must never be verified."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from scangen import scan_forms
from selfeval.contract import CheckStatus, Grade, Record, Status
from selfeval.contract.ocr import Cell, PageTables, TextLine
from services.parser import parse_submission
from services.scorer import score_record
from tests.conftest import REAL_FORMS, load_fixture
from tests.parser.truth_tables import page_tables

pytestmark = pytest.mark.unit

FORM = load_fixture(REAL_FORMS[1]).form


def tables() -> PageTables:
    return page_tables(scan_forms([FORM], quality="clean", dpi=150, seed=5))


def cells(tables: PageTables) -> list[Cell]:
    return [cell for page in tables.pages for table in page.tables for cell in table.cells]


def cell_reading(tables: PageTables, text: str) -> Cell:
    return next(cell for cell in cells(tables) if cell.text == text)


def total_weight_cell(tables: PageTables) -> Cell:
    """The 总分 row's 分值: the first cell right of 总分 in its row."""
    for page in tables.pages:
        for table in page.tables:
            for label in (cell for cell in table.cells if cell.text == "总分"):
                right = [c for c in table.cells if c.row == label.row and c.bbox[0] >= label.bbox[2] - 2]
                return min(right, key=lambda cell: cell.bbox[0])
    raise AssertionError("no 总分 row")


def scored(tables: PageTables) -> Record:
    (record,) = parse_submission(tables)
    return score_record(record)


def failing(record: Record, rule: str) -> list[str]:
    return [
        path
        for check in record.checks
        if check.rule == rule and check.status is CheckStatus.failed
        for path in check.fields
    ]


def test_a_signature_beside_the_grade_is_not_the_grade() -> None:
    read = tables()
    grade = cell_reading(read, FORM.grade.value)  # type: ignore[union-attr]
    box = grade.bbox
    grade.lines = [
        TextLine(text="-", confidence=0.4, box=box),
        TextLine(text=FORM.grade.value, confidence=0.99, box=box),  # type: ignore[union-attr]
        TextLine(text="1n.-m", confidence=0.21, box=box),  # the pen scribble, read as letters
    ]
    grade.text, grade.confidence = "-" + FORM.grade.value + "1n.-m", 0.21  # type: ignore[union-attr]
    record = scored(read)
    assert record.form.grade is FORM.grade
    assert record.status is Status.verified, record.reason


def test_two_grades_in_the_cell_are_no_grade() -> None:
    read = tables()
    grade = cell_reading(read, FORM.grade.value)  # type: ignore[union-attr]
    other = Grade.good if FORM.grade is not Grade.good else Grade.excellent
    grade.lines = [
        TextLine(text=FORM.grade.value, confidence=0.99, box=grade.bbox),  # type: ignore[union-attr]
        TextLine(text=other.value, confidence=0.99, box=grade.bbox),
    ]
    record = scored(read)
    assert record.form.grade is None
    assert "form.grade" in failing(record, "field_readable")
    assert record.status is Status.needs_review


def test_a_printed_figure_that_cannot_be_read_is_never_verified_even_where_optional() -> None:
    # The 总分 row's 分值 may be left out of a record typed by hand; printed and unreadable, it is named.
    read = tables()
    total_weight = total_weight_cell(read)
    assert total_weight.text == "100.00"
    total_weight.text = "100.C'"
    record = scored(read)
    assert record.form.total_weight is None
    assert failing(record, "field_readable") == ["form.total_weight"]
    assert record.status is Status.needs_review


def test_a_seal_read_beside_the_total_label_does_not_hide_the_total_row() -> None:
    # A grey seal's letters over the 总分 row are read as a doubtful piece next to a sure 总分.
    read = tables()
    label = next(cell for cell in cells(read) if cell.text == "总分")
    label.lines = [
        TextLine(text="总分", confidence=1.0, box=label.bbox),
        TextLine(text="、严一", confidence=0.52, box=label.bbox),
    ]
    label.text, label.confidence = "总分、严一", 0.52
    record = scored(read)
    assert record.form.total_score == FORM.total_score
    assert len(record.form.indicators) == len(FORM.indicators)
    assert record.status is Status.verified, record.reason


def test_a_doubtful_label_alone_is_still_matched_on_all_it_reads() -> None:
    read = tables()
    label = next(cell for cell in cells(read) if cell.text == "总分")
    label.lines = [TextLine(text="总分", confidence=0.6, box=label.bbox)]
    record = scored(read)
    assert record.form.total_score == FORM.total_score


def score_cell(tables: PageTables) -> Cell:
    score = FORM.indicators[0].score
    return next(cell for cell in cells(tables) if cell.text == str(score))


def with_lines(cell: Cell, *lines: tuple[str, float, tuple[int, int, int, int]]) -> None:
    cell.lines = [TextLine(text=text, confidence=confidence, box=box) for text, confidence, box in lines]
    cell.text = "".join(text for text, _, _ in lines)
    cell.confidence = min(confidence for _, confidence, _ in lines)


@pytest.mark.parametrize(
    ("speck", "confidence"),
    [
        ("5", 0.2),  # a faded seal's stroke, read doubtfully
        ("WES,", 0.7),  # a dotted seal's letters, read fairly sure but with no digit
    ],
)
def test_a_seal_read_under_a_figure_is_not_part_of_it(speck: str, confidence: float) -> None:
    read = tables()
    cell = score_cell(read)
    x0, y0, x1, _ = cell.bbox
    figure = (x0 + 10, y0 + 5, x1 - 10, y0 + 25)
    with_lines(cell, (cell.text, 1.0, figure), (speck, confidence, (x0 + 5, y0 + 40, x0 + 15, y0 + 48)))
    record = scored(read)
    assert record.form.indicators[0].score == FORM.indicators[0].score
    assert record.status is Status.verified, record.reason


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        (("5", 0.2, "beside"), "a piece on the figure's own row may be a digit of it"),
        (("5", 0.7, "under"), "a digit read fairly sure is not a speck"),
        (("WES,", 0.7, "beside"), "a piece on the figure's own row is read with it"),
    ],
)
def test_a_figure_with_another_reading_in_its_cell_is_never_verified(
    extra: tuple[str, float, str], why: str
) -> None:
    read = tables()
    cell = score_cell(read)
    x0, y0, _, _ = cell.bbox
    figure = (x0 + 10, y0 + 5, x0 + 60, y0 + 25)
    text, confidence, where = extra
    box = (x0 + 62, y0 + 5, x0 + 70, y0 + 25) if where == "beside" else (x0 + 5, y0 + 40, x0 + 15, y0 + 48)
    with_lines(cell, (cell.text, 1.0, figure), (text, confidence, box))
    record = scored(read)
    assert record.status is not Status.verified, why


def name_cell(tables: PageTables) -> tuple[Cell, tuple[int, int, int, int]]:
    """The project name's cell, and a line box for the name in it (20 pixels tall, 200 wide)."""
    cell = cell_reading(tables, FORM.project_name)
    x0, y0, _, _ = cell.bbox
    return cell, (x0 + 10, y0 + 5, x0 + 210, y0 + 25)


def test_a_seals_leftovers_beyond_a_name_are_no_part_of_it() -> None:
    # A seal's letters right of the name, read as pieces of their own: doubtful and short.
    read = tables()
    cell, name = name_cell(read)
    far = name[2] + 60  # three line heights beyond the name's end
    with_lines(
        cell,
        (FORM.project_name, 0.97, name),
        ("单", 0.12, (far, name[1] - 6, far + 30, name[3] + 8)),
        ("", 0.0, (far + 40, name[1], far + 90, name[3])),
        ("中", 0.46, (far + 100, name[3] + 2, far + 120, name[3] + 20)),
    )
    record = scored(read)
    assert record.form.project_name == FORM.project_name
    assert record.status is Status.verified, record.reason


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        (("心", 0.3, 20), "a doubtful character right after the name may be its own"),
        (("心中心", 0.3, 60), "three characters are more than a seal's leftover"),
        (("西", 0.6, 60), "read fairly sure, it is print"),
    ],
)
def test_a_name_with_another_reading_beside_it_is_never_verified(
    extra: tuple[str, float, int], why: str
) -> None:
    read = tables()
    cell, name = name_cell(read)
    text, confidence, gap = extra
    x = name[2] + gap
    with_lines(
        cell, (FORM.project_name, 0.97, name), (text, confidence, (x, name[1], x + 20 * len(text), name[3]))
    )
    record = scored(read)
    assert record.form.project_name != FORM.project_name, why
    assert record.status is not Status.verified, why


MEASURED = next(i for i, indicator in enumerate(FORM.indicators) if indicator.target == "≥90.00(百分比)")


def target_cell(tables: PageTables) -> tuple[Cell, tuple[int, int, int, int]]:
    """The cell of a target printed as a measure (≥90.00(百分比)), and a line box for it there."""
    cell = next(c for c in cells(tables) if c.text == FORM.indicators[MEASURED].target)
    x0, y0, x1, _ = cell.bbox
    return cell, (x0 + 5, y0 + 5, x1 - 5, y0 + 25)


def test_a_seals_letters_under_a_measure_are_no_part_of_it() -> None:
    # A seal's letters on a row of their own under the measure, read surely (as '学技术' was).
    read = tables()
    cell, measure = target_cell(read)
    x0, _, _, y1 = measure
    with_lines(cell, ("≥90.00(百分比)", 0.97, measure), ("学技术", 0.97, (x0, y1 + 4, x0 + 60, y1 + 24)))
    record = scored(read)
    assert record.form.indicators[MEASURED].target == FORM.indicators[MEASURED].target
    assert record.provenance.field_confidence[f"form.indicators[{MEASURED}].target"] == pytest.approx(0.97)


@pytest.mark.parametrize(
    ("measure_text", "extra", "below", "why"),
    [
        ("≥90.00(百分比)", "以上", False, "text on the measure's own row is read with it"),
        ("≥90.00(百分比)", "2", True, "a digit under it may be part of the value"),
        ("≥90.00(百分", "比)", True, "a measure printed over two rows"),
        ("≥90.00(百分比)", "科", None, "a measure read doubtfully"),
    ],
)
def test_a_target_is_read_whole_unless_one_line_is_a_whole_measure(
    measure_text: str, extra: str, below: bool | None, why: str
) -> None:
    read = tables()
    cell, measure = target_cell(read)
    x0, y0, x1, y1 = measure
    box = (x0, y1 + 4, x0 + 60, y1 + 24) if below is not False else (x1 - 40, y0, x1, y1)
    with_lines(cell, (measure_text, 0.97 if below is not None else 0.6, measure), (extra, 0.97, box))
    record = scored(read)
    assert record.form.indicators[MEASURED].target == measure_text + extra, why


@pytest.mark.parametrize("label", ["全年执行数", "实际完成值"])
def test_a_header_label_a_seal_hid_is_known_by_its_place(label: str) -> None:
    # A seal's letters over 全年执行数 read "全" alone: the column between 全年预算数 and 分数 is still it.
    read = tables()
    header = cell_reading(read, label)
    header.text = "全"
    header.lines = [TextLine(text="全", confidence=0.8, box=header.bbox)]
    record = scored(read)
    assert record.form.model_dump() == scored(tables()).form.model_dump()
    assert record.status is Status.verified, record.reason


def test_header_labels_lost_side_by_side_are_known_by_their_places() -> None:
    # 分数 read 分款 and 执行率(%) read 执行塞(%) on a blurred 1-bit scan: neither matches, and the two
    # cells between 全年执行数 and 得分 are theirs, in printed order.
    read = tables()
    cell_reading(read, "分数").text = "分款"
    cell_reading(read, "执行率(%)").text = "执行塞(%)"
    record = scored(read)
    assert record.form.funding.total.weight == FORM.funding.total.weight
    assert record.form.funding.total.execution_rate == FORM.funding.total.execution_rate
    assert record.status is Status.verified, record.reason


def test_header_labels_lost_side_by_side_are_not_placed_in_fewer_cells() -> None:
    # The ruling between 全年预算数 and 全年执行数 lost too: one cell where two labels go names neither.
    read = tables()
    first, second = cell_reading(read, "全年预算数"), cell_reading(read, "全年执行数")
    for page in read.pages:
        for table in page.tables:
            if second in table.cells:
                table.cells.remove(second)
    first.bbox = (first.bbox[0], first.bbox[1], second.bbox[2], first.bbox[3])
    first.colspan += second.colspan
    first.text = "全"
    record = scored(read)
    assert record.form.funding.total.executed is None
    assert record.form.funding.total.annual_budget is None
    assert record.status is Status.needs_review


def test_a_misread_first_header_label_is_known_by_its_place_when_it_still_resembles_it() -> None:
    # A seal's dots over 年初预算数 made it 年仍须算数: too far for a match, near enough beside 全年预算数.
    read = tables()
    header = cell_reading(read, "年初预算数")
    header.text = "年仍须算数"
    record = scored(read)
    assert record.form.funding.total.initial_budget == FORM.funding.total.initial_budget
    assert record.status is Status.verified, record.reason


def test_a_first_header_label_read_as_something_else_is_not_placed() -> None:
    read = tables()
    cell_reading(read, "年初预算数").text = "项目"
    record = scored(read)
    assert record.form.funding.total.initial_budget is None
    assert record.status is Status.needs_review


def test_the_first_indicator_label_read_as_a_dash_is_known_by_its_place() -> None:
    # 一 of 一级指标 read as a dash, the rest lost: the table's first column is still 一级指标.
    read = tables()
    cell_reading(read, "一级指标").text = "-"
    record = scored(read)
    assert [i.level1 for i in record.form.indicators] == [i.level1 for i in FORM.indicators]
    assert record.status is Status.verified, record.reason


def test_labels_read_in_traditional_characters_are_matched() -> None:
    read = tables()
    for simplified, traditional in (("二级指标", "二級指標"), ("年初预算数", "年初預算數")):
        cell_reading(read, simplified).text = traditional
    record = scored(read)
    assert record.form.model_dump() == scored(tables()).form.model_dump()
    assert record.status is Status.verified, record.reason


def _set_text(cell: Cell, text: str) -> None:
    cell.text = text
    for line in cell.lines:
        line.text = text


def test_a_figure_read_without_the_decimals_the_form_prints_is_doubtful() -> None:
    # A seal's dot over the decimal point: 100.00 read, surely, as 10000.
    read = tables()
    total_weight = total_weight_cell(read)
    _set_text(total_weight, "10000")
    record = scored(read)
    assert record.form.total_weight == Decimal("10000")  # kept as read, never changed
    assert "form.total_weight" in failing(record, "field_confidence")
    assert record.status is Status.needs_review
    # What the weights imply is offered, not built on the doubtful figure.
    assert record.provenance.suggestions["form.total_weight"].value == "100.00"


def test_a_form_that_prints_its_figures_without_decimals_is_not_doubted_for_it() -> None:
    read = tables()
    for cell in cells(read):
        if re.fullmatch(r"\d+\.00", cell.text):
            _set_text(cell, cell.text[:-3])
    record = scored(read)
    assert record.form.total_weight == Decimal("100")
    assert not failing(record, "field_confidence")
    assert record.status is Status.verified, record.reason


def test_the_unit_label_misread_between_the_two_names_still_parts_them() -> None:
    # 实施单位 read 实德准位 (施 and 单 blurred), too far from the label to match it: by its place between
    # the department's name and the unit's, the two names are read apart.
    read = tables()
    cell_reading(read, "实施单位").text = "实德准位"
    record = scored(read)
    assert record.form.department == FORM.department
    assert record.form.implementing_unit == FORM.implementing_unit
    assert record.status is Status.verified, record.reason


def test_a_department_name_alone_in_its_row_keeps_its_cells() -> None:
    # With nothing in the row that resembles 实施单位, no cell is taken for it.
    read = tables()
    cell_reading(read, "实施单位").text = "项目"
    record = scored(read)
    assert record.form.implementing_unit is None
    assert record.status is not Status.verified
