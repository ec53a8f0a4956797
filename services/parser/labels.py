"""The form's printed labels, matched tolerantly: OCR drops and confuses characters in them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import fuzz, process

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
    tied = _best_labels(text, candidates or tuple(Label))
    return tied[0] if tied else None


def match_labels_in_order(texts: list[str], candidates: tuple[Label, ...]) -> list[LabelMatch | None]:
    """The labels of a row of cells, left to right, printed in the order `candidates` lists them.

    A cell that matches several labels equally well (一级指标, 二级指标 and 三级指标 all read as
    级指标 when their thin first stroke is lost) takes the first of them not taken by a cell to its
    left.
    """
    taken: set[Label] = set()
    found: list[LabelMatch | None] = []
    for text in texts:
        tied = _best_labels(text, candidates)
        match = next((m for m in tied if m.label not in taken), tied[0] if tied else None)
        if match is not None:
            taken.add(match.label)
        found.append(match)
    return found


def _best_labels(text: str, candidates: tuple[Label, ...]) -> list[LabelMatch]:
    """The labels the text matches best (several when they tie), in the order of `candidates`."""
    read = ideographs(text)
    if not read or len(read) > 2 * len(max((c.value for c in candidates), key=len)):
        return []
    choices = {label: label.value for label in candidates}
    scored = process.extract(read, choices, scorer=fuzz.ratio, limit=None)
    passing = [
        (score, label)
        for _, score, label in scored
        if score >= (_MIN_SCORE_SHORT if len(label.value) <= 3 else _MIN_SCORE)
    ]
    if not passing:
        return []
    best = max(score for score, _ in passing)
    tied = {label: round(score, 1) for score, label in passing if score >= best - 0.01}
    return [LabelMatch(label=label, read=text, score=tied[label]) for label in candidates if label in tied]


def contains_label(text: str, label: Label, threshold: float = 80.0) -> bool:
    """Whether a longer text holds the label (a title line with the year beside it, say).

    The text must hold most of the label's characters: a lone 项 of "≥30.00(项)" is in the title too.
    """
    read = ideographs(text)
    return len(read) >= 0.7 * len(label.value) and fuzz.partial_ratio(label.value, read) >= threshold


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


def canonical_level(text: str, names: tuple[str, ...]) -> str:
    """The framework name a level cell shows: whole, cut short at a page break, or misread."""
    read = ideographs(text)
    if not read or read in names:
        return read
    prefixed = [name for name in names if name.startswith(read)]
    if len(read) >= 2 and len(prefixed) == 1:
        return prefixed[0]
    best = process.extractOne(read, names, scorer=fuzz.ratio, score_cutoff=75)
    return best[0] if best else read
