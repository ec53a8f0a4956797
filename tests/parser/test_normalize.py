from decimal import Decimal as D

import pytest

from services.parser.normalize import normalize_text, read_number, with_unit_closed

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("3,900.00", "3900.00"),
        ("3，900.00", "3900.00"),  # full-width comma as thousands separator
        ("155.77", "155.77"),
        ("l55.77", "155.77"),  # l read for 1: numeric cells only
        ("1O.00", "10.00"),  # O read for 0
        (" 8 . 65 ", "8.65"),  # spaces inside the figure
        ("１８０．００", "180.00"),  # full-width digits
        (".155.77", "155.77"),  # a speck before the figure
        ("155.77'", "155.77"),
        ("12.00.", "12.00"),  # a speck after the figure
        ("·0.00", "0.00"),
        ("3:00", "3.00"),  # the point read as a colon
        ("0.00", "0.00"),
        ("100,00", "100.00"),  # a comma before the last two digits is the decimal point
        ("3,900,00", "3900.00"),
        ("3.900.00", "3900.00"),  # a thousands comma read as a point: a figure has one point
        ("1.234.567.89", "1234567.89"),
        ("-855.93", "855.93"),  # a seal's ring read as a sign: the forms print none
        ("+12.00", "12.00"),
    ],
)
def test_numbers_read_exactly(raw: str, value: str) -> None:
    reading = read_number(raw)
    assert reading.ok and reading.value == D(value) and str(reading.value) == value


@pytest.mark.parametrize("raw", ["-", "－", "—", "二", "一"])
def test_printed_dash_is_null(raw: str) -> None:
    reading = read_number(raw)
    assert reading.ok and reading.value is None


@pytest.mark.parametrize(
    "raw",
    [
        "达成指标",
        "12.5.7",
        "1.00 2.00",
        "abc",
        "12,5",
        "-85",
        "+3",
        "-12.5",
        "3.90.00",
        "3900.000.00",
        "1.000 2.00",
        "07,17",  # 97.17 with a pale 9: no figure starts 0 before a digit
        "07.17",
        ".07.17",
        "00.00",
    ],
)
def test_non_numbers_are_refused_with_a_reason(raw: str) -> None:
    reading = read_number(raw)
    assert not reading.ok and reading.value is None and reading.problem


def test_empty_numeric_cell_is_a_problem() -> None:
    assert read_number("  ").problem == "empty"


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("海外中心工作研讨会（会议规模 20 人）", "海外中心工作研讨会（会议规模20人）"),
        ("2024 年 12 月 31 日前完成", "2024年12月31日前完成"),
        ("系统并发量 ＞= 50", "系统并发量≥50"),
        ("＝2(场)", "=2(场)"),
        ("＞95.00(百分比)", ">95.00(百分比)"),
        ("7*24 不间断", "7*24不间断"),
        ("Office 365 系统", "Office 365系统"),
    ],
)
def test_text_normalisation_keeps_meaning(raw: str, text: str) -> None:
    assert normalize_text(raw) == text


def test_letters_stay_letters_in_prose() -> None:
    assert normalize_text("IO 接口") == "IO接口"


@pytest.mark.parametrize(
    ("read", "canonical"),
    [
        ("研讨会（会议规模20人)", "研讨会（会议规模20人）"),  # OCR mixed the widths of a pair
        ("研讨会(会议规模20人）", "研讨会（会议规模20人）"),
        ("=2（场）", "=2(场)"),  # measures keep half width
        ("工作小组,目前还有", "工作小组，目前还有"),
        ("安全事故;二、", "安全事故；二、"),
        ("3，900.00", "3,900.00"),  # a comma between figures is a thousands separator
        ("新空间——沪港", "新空间-沪港"),
        ("六安)、合作", "六安）、合作"),
    ],
)
def test_punctuation_has_one_width(read: str, canonical: str) -> None:
    assert normalize_text(read) == canonical
    assert normalize_text(canonical) == canonical  # idempotent


@pytest.mark.parametrize(
    ("raw", "prose"),
    [
        (".按季度安排完成", "按季度安排完成"),  # a speck before the first character
        ("服务对象满意度.", "服务对象满意度"),  # and after the last
        ("提升单位科技管理流程、服务水·平、团队能力", "提升单位科技管理流程、服务水平、团队能力"),
        ("收储、·评估国内前沿技术", "收储、评估国内前沿技术"),
        ("长三角“一体化”·科创云平台", "长三角“一体化”科创云平台"),
        ("=80.00(家).", "=80.00(家)"),
        (".≥90.00(百分比)", "≥90.00(百分比)"),
        ("·30.00(人)", "30.00(人)"),
        (".33.82(个工作日)", "33.82(个工作日)"),
        # print that looks like a speck stays
        ("每条时长8-15分钟，约3.5万元", "每条时长8-15分钟，约3.5万元"),
        ("见www.gov.cn公告", "见www.gov.cn公告"),
        ("1.加强专业机构能力建设", "1.加强专业机构能力建设"),
        (".5", ".5"),
        ("等……", "等……"),
    ],
)
def test_specks_beside_chinese_text_are_dropped_and_print_kept(raw: str, prose: str) -> None:
    assert normalize_text(raw) == prose


@pytest.mark.parametrize(
    ("measure", "closed"),
    [
        ("549.00(平方米", "549.00(平方米)"),  # the closing bracket lost at the cell's edge
        ("<19.00(个工作日", "<19.00(个工作日)"),
        ("≥1,200.00(万元", "≥1,200.00(万元)"),
        ("549.00(平方米)", "549.00(平方米)"),
        ("达成指标", "达成指标"),
        ("提升服务水平(长三角", "提升服务水平(长三角"),  # prose, not a figure and unit
        ("=2(场)与3(次", "=2(场)与3(次"),
        (None, None),
    ],
)
def test_a_unit_left_open_at_the_end_of_a_measure_is_closed(measure: str | None, closed: str | None) -> None:
    assert with_unit_closed(measure) == closed


def test_text_read_in_traditional_characters_is_kept_simplified() -> None:
    assert normalize_text("系統運行維護，預算內") == "系统运行维护，预算内"
    assert normalize_text("后续干部发展") == "后续干部发展"  # simplified text is left as it is
