"""The form's printed labels, matched tolerantly: OCR drops and confuses characters in them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import fuzz, process
from rapidfuzz.distance import LCSseq

from services.parser.normalize import ideographs


class Label(StrEnum):
    title = "财政项目支出绩效自评表"
    project_name = "项目名称"
    department = "主管部门"
    implementing_unit = "实施单位"
    funding = "项目资金万元"
    initial_budget = "年初预算数"
    annual_budget = "全年预算数"
    executed = "全年执行数"
    weight = "分数"
    execution_rate = "执行率"
    score = "得分"
    total = "年度资金总额"
    current_year_appropriation = "其中当年财政拨款"
    carryover = "上年结转资金"
    other = "其他资金"
    goals = "年度总体目标"
    expected = "预期目标"
    actual = "实际完成情况"
    level1 = "一级指标"
    level2 = "二级指标"
    name = "三级指标"
    target = "年度指标值"
    actual_value = "实际完成值"
    indicator_weight = "分值"
    deviation_reason = "偏差原因分析及改进措施"
    total_score = "总分"
    grade = "评分等级"


FUNDING_ROW_LABELS = (Label.total, Label.current_year_appropriation, Label.carryover, Label.other)
FUNDING_COLUMN_LABELS = (
    Label.initial_budget,
    Label.annual_budget,
    Label.executed,
    Label.weight,
    Label.execution_rate,
    Label.score,
)
INDICATOR_COLUMN_LABELS = (
    Label.level1,
    Label.level2,
    Label.name,
    Label.target,
    Label.actual_value,
    Label.indicator_weight,
    Label.score,
    Label.deviation_reason,
)
# Short labels are easy to hit by chance, so they must match more closely.
_MIN_SCORE_SHORT = 90.0
_MIN_SCORE = 70.0


@dataclass(frozen=True)
class LabelMatch:
    label: Label
    read: str
    score: float


def match_label(text: str, candidates: tuple[Label, ...] | None = None) -> LabelMatch | None:
    """The label this cell text is, if it is one: best fuzzy match above a length-aware threshold."""
    ranked = _ranked_labels(text, candidates or tuple(Label))
    return ranked[0] if ranked else None


def match_labels_in_order(texts: list[str], candidates: tuple[Label, ...]) -> list[LabelMatch | None]:
    """The labels of a row of cells, left to right: each is printed once, so a cell whose best label
    a cell to its left took has the next best (三级指标 read as 二级指标 after 二级指标 is 三级指标;
    一级/二级/三级指标 that all read 级指标, their first stroke lost, are the three in printed order).
    Of labels it matches equally well, a cell takes one printed after those of the cells to its left:
    级指标 right of 二级指标 is 三级指标, not 一级指标 (whose own cell lost its 一级)."""
    taken: set[Label] = set()
    found: list[LabelMatch | None] = []
    for text in texts:
        free = [m for m in _ranked_labels(text, candidates) if m.label not in taken]
        last = max((candidates.index(label) for label in taken), default=-1)
        best = [m for m in free if m.score == free[0].score]
        match = next((m for m in best if candidates.index(m.label) > last), best[0] if best else None)
        if match is not None:
            taken.add(match.label)
        found.append(match)
    return found


RESEMBLING = 50.0
"""a cell known to hold a label by its place must still read this close to it (more than half)"""


def resembles(text: str, label: Label) -> bool:
    """Whether a cell's text could be the label misread (年仍须算数 for 年初预算数): no match on its own."""
    read = ideographs(text)
    return bool(read) and fuzz.ratio(read, label.value) >= RESEMBLING


def label_cut_short(text: str, candidates: tuple[Label, ...]) -> Label | None:
    """The label a header cell cut by a page break starts (一级 of 一级指标, its 指标 on the next
    page): the one candidate whose characters begin with the cell's (two at least)."""
    read = ideographs(text)
    if len(read) < 2:
        return None
    starting = [label for label in candidates if label.value.startswith(read) and label.value != read]
    return starting[0] if len(starting) == 1 else None


def _min_score(label: Label) -> float:
    return _MIN_SCORE_SHORT if len(label.value) <= 3 else _MIN_SCORE


def _whole_plus_one(read: str, label: Label) -> bool:
    """A short label read whole with one character more (a seal's dots beside 总分 read as 店)."""
    return len(label.value) <= 3 and label.value in read and len(read) == len(label.value) + 1


def _ranked_labels(text: str, candidates: tuple[Label, ...]) -> list[LabelMatch]:
    """The labels the text matches well enough, best first; equally good ones in `candidates` order."""
    read = ideographs(text)
    if not read or len(read) > 2 * len(max((c.value for c in candidates), key=len)):
        return []
    choices = {label: label.value for label in candidates}
    order = {label: position for position, label in enumerate(candidates)}
    passing = [
        LabelMatch(label=label, read=text, score=round(score, 1))
        for _, score, label in process.extract(read, choices, scorer=fuzz.ratio, limit=None)
        if score >= _min_score(label) or _whole_plus_one(read, label)
    ]
    return sorted(passing, key=lambda match: (-match.score, order[match.label]))


def contains_label(text: str, label: Label, threshold: float = 80.0) -> bool:
    """Whether a longer text holds the label (a title line with the year beside it, say).

    The text must hold most of the label's characters: a lone 项 of "≥30.00(项)" is in the title too.
    """
    read = ideographs(text)
    if len(read) < 0.7 * len(label.value):
        return False
    return fuzz.partial_ratio(label.value, read) >= threshold or _most_in_order(read, label)


def _most_in_order(read: str, label: Label) -> bool:
    """A line that shows most of the label's characters in their order and few others: the label
    with a few characters dropped or misread (财政项目支自评表, 财政更目支出一自评表 for a bold or
    faded title). A window of the label, as `partial_ratio` compares, scores such a read low because
    the characters it lost fall inside every window; a sentence that merely holds part of the label
    (本单位项目支出绩效自评情况说明) has too many characters of its own."""
    in_order = LCSseq.similarity(read, label.value)
    return in_order >= 0.7 * len(label.value) and len(read) - in_order <= 0.3 * len(label.value)


# 一级/二级指标 names of the national framework (财预〔2020〕10号 and provincial templates). A merged level
# cell cut by a page break, or an OCR slip, still names one of these.
LEVEL1_NAMES = ("产出指标", "效益指标", "满意度指标", "成本指标")
LEVEL2_NAMES = (
    "数量指标",
    "质量指标",
    "时效指标",
    "成本指标",
    "经济成本指标",
    "社会成本指标",
    "生态环境成本指标",
    "经济效益指标",
    "社会效益指标",
    "生态效益指标",
    "可持续影响指标",
    "服务对象满意度指标",
)


LEVEL_CLOSE, LEVEL_HALF, LEVEL_LEAD = 75.0, 50.0, 20.0
"""a level cell names a framework name it reads this close to, or half as close when that name leads
every other by this much (fuzz.ratio, 0–100)"""


def canonical_level(text: str, names: tuple[str, ...]) -> str:
    """The framework name a level cell shows: whole, cut short at a page break, or misread."""
    read = ideographs(text)
    if not read or read in names:
        return read
    prefixed = [name for name in names if name.startswith(read)]
    if len(read) >= 2 and len(prefixed) == 1:
        return prefixed[0]
    ranked = process.extract(read, names, scorer=fuzz.ratio, limit=2)
    best, runner_up = ranked[0][1], ranked[1][1] if len(ranked) > 1 else 0.0
    # Close, or half its characters and far closer than any other name (户出指隶 for 产出指标): the
    # names are few and unlike each other. A name of another template (专项指标) is like several.
    if best >= LEVEL_CLOSE or (best >= LEVEL_HALF and best - runner_up >= LEVEL_LEAD):
        return ranked[0][0]
    return read
