"""The form as a logical table (rows, cells, vertical spans) and the page geometry it is drawn on.

Nothing here knows about pages: `paginate` cuts the measured rows into pages, `render` draws them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

import numpy as np

from selfeval.contract.record import Form, FundingRow

N_COLS = 8
A4_MM = (210.0, 297.0)
MARGIN_MM = 15.0


class Measures(Protocol):
    """What wrapping needs of a font: the advance of a string in pixels."""

    def getlength(self, text: str) -> float: ...


@dataclass(frozen=True)
class LayoutStyle:
    """Type sizes and the table's proportions: what differs from one unit's form to the next."""

    body_pt: float = 10.5
    title_pt: float = 16.0
    year_pt: float = 12.0
    # Column widths in ems of the body font; the last column takes what is left of the 180 mm.
    # Columns 0 and 1 are narrow on purpose: real forms wrap 一级/二级指标 2-3 characters a line.
    col_ems: tuple[float, ...] = (2.7, 3.7, 11.0, 8.0, 6.5, 4.2, 4.2)
    line_spacing: float = 1.3
    pad_x_em: float = 0.25
    pad_y_em: float = 0.2


STANDARD = LayoutStyle()
_LAST_COLUMN_MIN_EMS = 8.0  # 偏差原因分析及改进措施 still wraps in a few lines
_FIGURE_COLUMNS = (5, 6)  # 分值/分数 and 得分/执行率: as narrow as the standard, never narrower


def random_style(rng: np.random.Generator) -> LayoutStyle:
    """A unit's own form: body 9–12 pt, title 14–20 pt, columns -12 % to +15 %, rows looser or tighter."""
    body = float(rng.choice(np.arange(9.0, 12.01, 0.5)))
    width_ems = (A4_MM[0] - 2 * MARGIN_MM) / 25.4 * 72 / body
    scale = rng.uniform(0.88, 1.15, size=len(STANDARD.col_ems))
    scale[list(_FIGURE_COLUMNS)] = np.maximum(scale[list(_FIGURE_COLUMNS)], 1.0)  # 100.00 never wraps
    ems = [max(2.5, round(float(e * k), 2)) for e, k in zip(STANDARD.col_ems, scale, strict=True)]
    spare = width_ems - sum(ems) - _LAST_COLUMN_MIN_EMS
    if spare < 0:  # a large body size: the text columns give the last one what it needs
        text = sum(e for i, e in enumerate(ems) if i not in _FIGURE_COLUMNS)
        ems = [
            e if i in _FIGURE_COLUMNS else max(2.5, round(e + spare * e / text, 2)) for i, e in enumerate(ems)
        ]
    return LayoutStyle(
        body_pt=body,
        title_pt=float(rng.choice([14.0, 15.0, 16.0, 18.0, 20.0])),
        year_pt=float(rng.choice([10.5, 12.0, 14.0])),
        col_ems=tuple(ems),
        line_spacing=round(float(rng.uniform(1.2, 1.6)), 2),
        pad_x_em=STANDARD.pad_x_em,
        pad_y_em=round(float(rng.uniform(0.15, 0.5)), 2),
    )


FUNDING_ROWS = (
    ("total", "年度资金总额："),
    ("current_year_appropriation", "其中：当年财政拨款"),
    ("carryover", "上年结转资金"),
    ("other", "其他资金"),
)
FUNDING_COLUMNS = (
    ("initial_budget", "年初预算数"),
    ("annual_budget", "全年预算数"),
    ("executed", "全年执行数"),
    ("weight", "分数"),
    ("execution_rate", "执行率(%)"),
    ("score", "得分"),
)
INDICATOR_HEADER = (
    "一级指标",
    "二级指标",
    "三级指标",
    "年度指标值",
    "实际完成值",
    "分值",
    "得分",
    "偏差原因分析及改进措施",
)
GOAL_COLS = ((1, 3), (4, 4))  # (first col, colspan) of 预期目标 and 实际完成情况


def mm_to_px(mm: float, dpi: int) -> int:
    return round(mm / 25.4 * dpi)


def pt_to_px(pt: float, dpi: int) -> int:
    return round(pt / 72 * dpi)


@dataclass(frozen=True)
class PageGeometry:
    """Pixel measures of an A4 page at one dpi."""

    dpi: int
    width: int
    height: int
    margin: int
    body_px: int
    title_px: int
    year_px: int
    line_h: int
    pad_x: int
    pad_y: int
    rule: int
    col_x: tuple[int, ...]  # N_COLS + 1 boundaries

    @property
    def table_bottom(self) -> int:
        return self.height - self.margin

    def span_x(self, col: int, colspan: int) -> tuple[int, int]:
        return self.col_x[col], self.col_x[col + colspan]

    def text_width(self, col: int, colspan: int) -> int:
        x0, x1 = self.span_x(col, colspan)
        return x1 - x0 - 2 * self.pad_x


def page_geometry(dpi: int, style: LayoutStyle = STANDARD) -> PageGeometry:
    width, height = (mm_to_px(v, dpi) for v in A4_MM)
    margin = mm_to_px(MARGIN_MM, dpi)
    body = pt_to_px(style.body_pt, dpi)
    bounds = [margin]
    for ems in style.col_ems:
        bounds.append(bounds[-1] + round(ems * body))
    bounds.append(width - margin)
    return PageGeometry(
        dpi=dpi,
        width=width,
        height=height,
        margin=margin,
        body_px=body,
        title_px=pt_to_px(style.title_pt, dpi),
        year_px=pt_to_px(style.year_pt, dpi),
        line_h=round(body * style.line_spacing),
        pad_x=round(body * style.pad_x_em),
        pad_y=round(body * style.pad_y_em),
        rule=max(1, round(dpi / 100)),
        col_x=tuple(bounds),
    )


@dataclass
class Cell:
    col: int
    colspan: int
    text: str
    field: str | None = None  # None: a printed label of the form itself
    numeric: bool = False


@dataclass
class Row:
    kind: str
    cells: list[Cell]


@dataclass
class Span:
    """A vertically merged cell over rows first..last (inclusive) of one column."""

    col: int
    first: int
    last: int
    text: str
    field: str | None = None


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)

    def add(self, kind: str, *cells: Cell) -> int:
        self.rows.append(Row(kind, list(cells)))
        return len(self.rows) - 1


def format_amount(value: Decimal | None, thousands: bool = False) -> str:
    """2 decimals as given; None (a printed "-") stays "-"."""
    if value is None:
        return "-"
    fixed = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{fixed:,.2f}" if thousands and abs(fixed) >= 1000 else f"{fixed:.2f}"


def build_table(form: Form, thousands: bool = False) -> Table:
    table = Table()
    _add_header_rows(table, form)
    _add_funding_rows(table, form, thousands)
    _add_goal_rows(table, form)
    _add_indicator_rows(table, form, thousands)
    _add_total_rows(table, form, thousands)
    return table


def _add_header_rows(table: Table, form: Form) -> None:
    table.add("project", Cell(0, 1, "项目名称"), Cell(1, 7, form.project_name or "", "form.project_name"))
    table.add(
        "department",
        Cell(0, 1, "主管部门"),
        Cell(1, 3, form.department or "", "form.department"),
        Cell(4, 1, "实施单位"),
        Cell(5, 3, form.implementing_unit or "", "form.implementing_unit"),
    )


def _add_funding_rows(table: Table, form: Form, thousands: bool) -> None:
    header = [Cell(1, 1, "")] + [Cell(2 + i, 1, t) for i, (_, t) in enumerate(FUNDING_COLUMNS)]
    first = table.add("funding_header", *header)
    for key, label in FUNDING_ROWS:
        values: FundingRow = getattr(form.funding, key)
        cells = [Cell(1, 1, label)]
        for i, (attr, _) in enumerate(FUNDING_COLUMNS):
            text = format_amount(getattr(values, attr), thousands)
            cells.append(Cell(2 + i, 1, text, f"form.funding.{key}.{attr}", numeric=True))
        last = table.add("funding", *cells)
    table.spans.append(Span(0, first, last, "项目资金（万元）"))


def _add_goal_rows(table: Table, form: Form) -> None:
    (c_exp, n_exp), (c_act, n_act) = GOAL_COLS
    first = last = table.add(
        "goal_header", Cell(c_exp, n_exp, "预期目标"), Cell(c_act, n_act, "实际完成情况")
    )
    for i, goal in enumerate(form.goals):
        last = table.add(
            "goal",
            Cell(c_exp, n_exp, goal.expected, f"form.goals[{i}].expected"),
            Cell(c_act, n_act, goal.actual or "", f"form.goals[{i}].actual"),
        )
    table.spans.append(Span(0, first, last, "年度总体目标"))


def _add_indicator_rows(table: Table, form: Form, thousands: bool) -> None:
    table.add("indicator_header", *(Cell(i, 1, t) for i, t in enumerate(INDICATOR_HEADER)))
    for i, ind in enumerate(form.indicators):
        path = f"form.indicators[{i}]"
        table.add(
            "indicator",
            Cell(2, 1, ind.name, f"{path}.name"),
            Cell(3, 1, ind.target or "", f"{path}.target"),
            Cell(4, 1, ind.actual or "", f"{path}.actual"),
            Cell(5, 1, _score_text(ind.weight, thousands), f"{path}.weight", numeric=True),
            Cell(6, 1, _score_text(ind.score, thousands), f"{path}.score", numeric=True),
            Cell(7, 1, ind.deviation_reason or "", f"{path}.deviation_reason"),
        )
    _add_level_spans(table, form, first_row=len(table.rows) - len(form.indicators))


def _score_text(value: Decimal | None, thousands: bool) -> str:
    return "" if value is None else format_amount(value, thousands)


def _add_level_spans(table: Table, form: Form, first_row: int) -> None:
    """Merge runs of equal 一级指标 (col 0) and equal (一级, 二级) pairs (col 1)."""
    keys = {
        0: [ind.level1 for ind in form.indicators],
        1: [(ind.level1, ind.level2) for ind in form.indicators],
    }
    for col, values in keys.items():
        start = 0
        for i in range(1, len(values) + 1):
            if i == len(values) or values[i] != values[start]:
                ind = form.indicators[start]
                text = ind.level1 if col == 0 else ind.level2
                attr = "level1" if col == 0 else "level2"
                table.spans.append(
                    Span(
                        col,
                        first_row + start,
                        first_row + i - 1,
                        text,
                        f"form.indicators[{start}].{attr}",
                    )
                )
                start = i


def _add_total_rows(table: Table, form: Form, thousands: bool) -> None:
    table.add(
        "total",
        Cell(0, 5, "总分"),
        Cell(5, 1, _score_text(form.total_weight, thousands), "form.total_weight", numeric=True),
        Cell(6, 1, _score_text(form.total_score, thousands), "form.total_score", numeric=True),
        Cell(7, 1, ""),
    )
    grade = form.grade.value if form.grade is not None else ""
    table.add("grade", Cell(0, 2, "评分等级"), Cell(2, 6, grade, "form.grade"))


# ASCII runs (numbers, words, "(场)") are kept on one line when they fit, like word processors do.
_TOKEN = re.compile(r"[A-Za-z0-9.,%/*+\-]+|.", re.DOTALL)
_NO_LINE_START = set("，。、；：？！）》」』”’,.;:)%")


def wrap_text(text: str, font: Measures, width: int, balanced: bool = False) -> list[str]:
    """Greedy wrap to `width` pixels; "".join(result) == text without its newlines.

    `balanced` evens out line lengths, as printed labels do ("数量\n指标", not "数量指\n标").
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(_wrap_paragraph(paragraph, font, width))
    if balanced and len(lines) > 1 and "\n" not in text:
        return _balance(text, lines, font, width)
    return lines or [""]


def _balance(text: str, lines: list[str], font: Measures, width: int) -> list[str]:
    per_line = -(-len(text) // len(lines))
    even = [text[i : i + per_line] for i in range(0, len(text), per_line)]
    fits = all(font.getlength(line) <= width for line in even)
    if len(even) <= len(lines) and fits and not any(line[0] in _NO_LINE_START for line in even):
        return even
    return lines


def _wrap_paragraph(text: str, font: Measures, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for token in _TOKEN.findall(text):
        if font.getlength(current + token) <= width:
            current += token
            continue
        if len(token) > 1 and font.getlength(token) > width:
            current = _spill_chars(current, token, font, width, lines)
            continue
        current = _break_line(current, token, font, width, lines) if current else token
    lines.append(current)
    return lines


def _break_line(current: str, token: str, font: Measures, width: int, out: list[str]) -> str:
    """End `current` before `token`; carry a character along so punctuation never starts a line."""
    if token[0] in _NO_LINE_START and len(current) > 1:
        carried = current[-1] + token
        if font.getlength(carried) <= width:
            out.append(current[:-1])
            return carried
    out.append(current)
    return token


def _spill_chars(current: str, token: str, font: Measures, width: int, out: list[str]) -> str:
    """A token wider than the cell is broken character by character."""
    for ch in token:
        if current and font.getlength(current + ch) > width:
            out.append(current)
            current = ""
        current += ch
    return current
