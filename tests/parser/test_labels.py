"""Labels are found through the OCR slips a naive exact match would miss."""

import pytest

from services.parser.labels import (
    INDICATOR_COLUMN_LABELS,
    LEVEL1_NAMES,
    LEVEL2_NAMES,
    Label,
    canonical_level,
    contains_label,
    match_label,
    match_labels_in_order,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("read", "label"),
    [
        ("年度资金总额：", Label.total),
        ("年度资金总頟", Label.total),  # one character confused
        ("年度资金总", Label.total),  # one dropped
        ("其中：当年财政拨款", Label.current_year_appropriation),
        ("其中当年财改拨款", Label.current_year_appropriation),
        ("上年结转資金", Label.carryover),
        ("其他资全", Label.other),
        ("执行率(%)", Label.execution_rate),
        ("执行率（％）", Label.execution_rate),
        ("项目资金 （万元）", Label.funding),
        ("偏差原因分析及改进措", Label.deviation_reason),
        ("实际完成值", Label.actual_value),
        ("实际完成情况", Label.actual),
        ("评分等級", Label.grade),
        ("执行率(00)", Label.execution_rate),  # (%) misread: not part of the label
        ("è总分", Label.total_score),  # a seal speck read before the label
        ("总分。", Label.total_score),
        ("总分店", Label.total_score),  # a seal's dots beside the label read as one more character
    ],
)
def test_label_found_despite_ocr_noise(read: str, label: Label) -> None:
    match = match_label(read)
    assert match is not None and match.label is label and match.read == read and match.score > 0


@pytest.mark.parametrize("read", ["绿色技术银行综合管理与运行", "达成指标", "=2(场)", "", "优"])
def test_values_are_not_taken_for_labels(read: str) -> None:
    assert match_label(read) is None


def test_short_labels_need_a_close_match() -> None:
    assert match_label("得分", (Label.score, Label.indicator_weight)).label is Label.score  # type: ignore[union-attr]
    assert match_label("分值", (Label.score, Label.indicator_weight)).label is Label.indicator_weight  # type: ignore[union-attr]
    assert match_label("得", (Label.score,)) is None


@pytest.mark.parametrize(
    ("read", "names", "canonical"),
    [
        ("质量", LEVEL2_NAMES, "质量指标"),  # merged cell cut by a page break
        ("服务对", LEVEL2_NAMES, "服务对象满意度指标"),
        ("满意", LEVEL1_NAMES, "满意度指标"),
        ("可持续影响指标", LEVEL2_NAMES, "可持续影响指标"),
        ("可持续影向指标", LEVEL2_NAMES, "可持续影响指标"),  # misread
        ("产出 指标", LEVEL1_NAMES, "产出指标"),
        ("成本", LEVEL2_NAMES, "成本指标"),
        ("专项指标", LEVEL2_NAMES, "专项指标"),  # unknown names are kept as read
        ("户出指隶", LEVEL1_NAMES, "产出指标"),  # half read, and like no other name
        ("服务时象汉意度指隶", LEVEL2_NAMES, "服务对象满意度指标"),
        ("社会", LEVEL2_NAMES, "社会"),  # half of two names alike: 社会效益指标 or 社会成本指标
    ],
)
def test_level_names_completed_from_the_framework(read: str, names: tuple[str, ...], canonical: str) -> None:
    assert canonical_level(read, names) == canonical


def test_header_cells_tying_between_labels_take_them_in_printed_order() -> None:
    # 一级/二级/三级指标 whose thin first stroke the scan lost all read 级指标.
    read = [
        "级指标",
        "级指标",
        "级指标",
        "年度指标值",
        "实际完成值",
        "分值",
        "得分",
        "偏差原因分析及改进措施",
    ]
    found = [match.label if match else None for match in match_labels_in_order(read, INDICATOR_COLUMN_LABELS)]
    assert found == list(INDICATOR_COLUMN_LABELS)


def test_a_label_read_as_its_neighbour_takes_the_next_best_one_left_free() -> None:
    read = ["一级指标", "二级指标", "二级指标", "年度指标值"]  # 三级指标's thin stroke lost
    found = [match.label if match else None for match in match_labels_in_order(read, INDICATOR_COLUMN_LABELS)]
    assert found == [Label.level1, Label.level2, Label.name, Label.target]


def test_a_tie_goes_to_the_label_printed_after_those_on_the_left() -> None:
    # 一级指标's cell kept only its 指标 (no label); 三级指标 lost its 三 and ties 一级 and 三级.
    read = ["指标", "二级指标", "级指标", "年度指标值"]
    found = [match.label if match else None for match in match_labels_in_order(read, INDICATOR_COLUMN_LABELS)]
    assert found == [None, Label.level2, Label.name, Label.target]


def test_a_cell_matching_one_label_best_keeps_it_whatever_its_place() -> None:
    found = match_labels_in_order(["三级指标", "一级指标"], INDICATOR_COLUMN_LABELS)
    assert [match.label for match in found if match] == [Label.name, Label.level1]


@pytest.mark.parametrize(
    "text",
    ["≥30.00(项)", "134.00(项)", "项目", "自评", "本单位项目支出绩效自评情况说明", "项目名称项目支出绩效"],
)
def test_a_few_characters_of_the_title_are_not_the_title(text: str) -> None:
    assert not contains_label(text, Label.title)


@pytest.mark.parametrize(
    "text",
    [
        "财政项目支出绩效自评表",
        "财政项目支出绩效自评表（2024年度）",
        "财政项目支山绩效自评表",
        "财政项目支自评表",  # a bold 150 dpi title whose three dense characters read as nothing
        "财政更目支出一自评表",  # a faded 楷体 title: two misread, one dropped
    ],
)
def test_the_title_is_found_with_the_year_beside_it_or_a_slip(text: str) -> None:
    assert contains_label(text, Label.title)
