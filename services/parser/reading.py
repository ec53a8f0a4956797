"""Reading one form's table rows into a `Form`, field by field, keeping where each value came from."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from selfeval.contract import Form, Funding, FundingRow, Goal, Grade, Indicator
from selfeval.contract.figures import OPERATOR_CHARS, UNSIGNED_NUMBER
from selfeval.contract.ocr import Box, Cell, TextLine
from selfeval.contract.paths import form_path, funding_path, goal_path, indicator_path
from services.parser.labels import (
    FUNDING_COLUMN_LABELS,
    FUNDING_ROW_LABELS,
    INDICATOR_COLUMN_LABELS,
    LEVEL1_NAMES,
    LEVEL2_NAMES,
    Label,
    LabelMatch,
    canonical_level,
    label_cut_short,
    match_label,
    resembles,
)
from services.parser.normalize import (
    ideographs,
    is_two_decimal_figure,
    normalize_text,
    read_number,
    with_unit_closed,
)
from services.parser.table_rows import SURE_LINE, GridRow, Span, cell_in_column, cell_span, known_unmatched

_YEAR = re.compile(r"((?:19|20)\d{2})\s*年")
_FUNDING_FIELDS = {
    Label.initial_budget: "initial_budget",
    Label.annual_budget: "annual_budget",
    Label.executed: "executed",
    Label.weight: "weight",
    Label.execution_rate: "execution_rate",
    Label.score: "score",
}
_FUNDING_ROWS = {
    Label.total: "total",
    Label.current_year_appropriation: "current_year_appropriation",
    Label.carryover: "carryover",
    Label.other: "other",
}
# A split goal text ends mid-sentence; a finished one with a full stop or the like.
_SENTENCE_END = tuple("。.；;！!？?）)」”")
_GRADES = {grade.value: grade for grade in Grade}
# Indicator columns by the record field they fill; the text ones carry on across a page break.
_LEVEL_COLUMNS = ((Label.level1, "level1"), (Label.level2, "level2"))
_CONTINUABLE_COLUMNS = (
    (Label.name, "name"),
    (Label.target, "target"),
    (Label.actual_value, "actual"),
    (Label.deviation_reason, "deviation_reason"),
)


@dataclass(frozen=True)
class Place:
    """Where a cell (or a text line) sits on the scan: its page and its box in that page's pixels."""

    page: int
    box: Box


@dataclass
class FieldSource:
    """Where a value came from: the raw OCR text, the cells' least confidence and where they sit."""

    raw: str
    confidence: float | None
    problem: str | None = None
    places: list[Place] = field(default_factory=list)

    def where(self) -> Place | None:
        """The box around the value's cells, on the page it starts on (a value a page break cut is
        found where it begins)."""
        if not self.places:
            return None
        page = self.places[0].page
        boxes = [place.box for place in self.places if place.page == page]
        return Place(page, union(boxes))


def union(boxes: list[Box]) -> Box:
    return (
        min(box[0] for box in boxes),
        min(box[1] for box in boxes),
        max(box[2] for box in boxes),
        max(box[3] for box in boxes),
    )


def cell_place(row: GridRow, cell: Cell) -> Place:
    return Place(row.page, cell.bbox)


def column_place(row: GridRow, column: Span) -> Place:
    """Where a cell of the row under the column would be: the reviewer looks there for a value the
    reading could not find."""
    return Place(row.page, (column[0], row.top, column[1], row.bottom))


@dataclass
class FormReading:
    """Everything read from one form: the values, their sources, the labels matched."""

    form: Form
    sources: dict[str, FieldSource] = field(default_factory=dict)
    labels: dict[str, LabelMatch] = field(default_factory=dict)


def _read_grade(cells: list[Cell], places: list[Place]) -> tuple[Grade | None, FieldSource]:
    """The grade: the one line of the cell that is a grade character alone (a signature or a seal
    beside it reads as lines of its own, which are not the grade), with that line's confidence."""
    raw = "".join(c.text for c in cells)
    lines = [line for cell in cells for line in _lines_of(cell)]
    graded = [(line, _GRADES[text]) for line in lines if (text := ideographs(line.text)) in _GRADES]
    grades = {grade for _, grade in graded}
    if len(grades) != 1:
        problem = f"not a grade: {raw!r}" if not grades else f"two grades: {raw!r}"
        return None, FieldSource(raw, _least(cells), problem, places)
    confidence = min(line.confidence for line, _ in graded)
    return grades.pop(), FieldSource(raw, confidence, None, places)


SPECK_LINE = 0.5
"""a line read less sure than this, on a text row of its own beside a sure figure, is not print"""


def _no_part_of(figure: TextLine, line: TextLine) -> bool:
    """Whether another line of a figure's cell is no part of the figure: on a text row of its own, and
    read doubtfully or with no digit in it (a seal's letters above the figure, read however sure)."""
    if _same_text_row(line.box, figure.box):
        return False
    return line.confidence < SPECK_LINE or not any(c.isdigit() for c in line.text)


def figure_line(cell: Cell) -> TextLine | None:
    """The one line of a figure cell that is the figure, when the cell holds more: a sure reading of a
    printed two-decimal figure, every other line on a text row of its own and a doubtful speck or no
    digit at all (a faded seal's letters under the figure read '5' and 'S', a dotted seal's above it
    'WES,'). None when the cell is to be read whole."""
    return _the_one_line(cell, is_two_decimal_figure, _no_part_of)


def _the_one_line(
    cell: Cell, is_value: Callable[[str], object], apart: Callable[[TextLine, TextLine], bool]
) -> TextLine | None:
    """The one sure line of a cell holding more that reads as its value, when every other line is
    `apart` from it; None when the cell is to be read whole."""
    if len(cell.lines) < 2:
        return None
    sure = [line for line in cell.lines if line.confidence >= SURE_LINE and is_value(line.text)]
    if len(sure) != 1:
        return None
    value = sure[0]
    if all(apart(value, line) for line in cell.lines if line is not value):
        return value
    return None


_WHOLE_MEASURE = re.compile(rf"[{OPERATOR_CHARS}]?{UNSIGNED_NUMBER}\([^()]+\)")
"""a target or actual printed as a measure, its unit's bracket closed: '≥90.00(百分比)', '=1.00(场)'"""


def measure_line(cell: Cell) -> TextLine | None:
    """The one line of a target or actual cell that is a whole printed measure, when the cell holds
    more: read surely, every other line on a text row of its own with no digit in it (a seal's letters
    under '≥90.00(百分比)' read '八小', '科' or '学技术', however surely). None when the cell is to be
    read whole: a measure printed over two rows is no whole measure on either."""
    return _the_one_line(
        cell,
        lambda text: _WHOLE_MEASURE.fullmatch(normalize_text(text)),
        lambda measure, line: (
            not _same_text_row(line.box, measure.box) and not any(c.isdigit() for c in line.text)
        ),
    )


def _same_text_row(a: Box, b: Box) -> bool:
    return min(a[3], b[3]) > max(a[1], b[1])


SPECK_CHARACTERS = 2
"""a doubtful line beside a name is a seal's leftover only when this short: a name's own lost words
are longer"""

NAME_GAP = 2.0
"""line heights of blank between a name's sure line and a doubtful piece beyond it; a name is printed
in one run, its characters never that far apart"""


def name_lines(lines: list[TextLine]) -> list[TextLine]:
    """A header value's lines less what a seal left beside the name: a line read doubtfully, two
    characters at most, lying beyond both ends of the sure lines by two of their heights (a seal's
    letters and remnants right of 国内外科技合作交流 read '单', '' and '中' at 0.12-0.46). Every line
    stays when none is sure."""
    sure = [line for line in lines if line.confidence >= SURE_LINE]
    if not sure:
        return lines
    start = min(line.box[0] for line in sure)
    end = max(line.box[2] for line in sure)
    gap = NAME_GAP * max(line.box[3] - line.box[1] for line in sure)

    def speck(line: TextLine) -> bool:
        beyond = line.box[0] >= end + gap or line.box[2] <= start - gap
        return line.confidence < SPECK_LINE and len(line.text.strip()) <= SPECK_CHARACTERS and beyond

    return [line for line in lines if not speck(line)]


def _unit_label_between_values(
    row: GridRow, found: list[tuple[Cell, LabelMatch]]
) -> list[tuple[Cell, LabelMatch]]:
    """实施单位 misread past matching (实德准位) in the row of 主管部门: known by its place between the
    department's name and the unit's, and by still resembling the label. Left unknown, the unit's
    cells would be read as the rest of the department's name."""
    labels = {match.label: cell for cell, match in found}
    department = labels.get(Label.department)
    if department is None or Label.implementing_unit in labels:
        return []
    right = sorted((c for c in row.started if c.bbox[0] >= department.bbox[2] - 2), key=lambda c: c.bbox[0])
    between = [c for c in right[1:-1] if resembles(c.text, Label.implementing_unit)]
    if len(between) != 1:
        return []
    return [known_unmatched(between[0], Label.implementing_unit)]


def _name_source(cells: list[Cell]) -> tuple[str, float | None]:
    """A header value's text, read from its cells' `name_lines`, and the least confidence of what it
    is read from. Cells are taken whole when nothing is left out (or given without lines: typed, or
    from a test)."""
    kept = name_lines([line for cell in cells for line in cell.lines])
    if len(kept) == sum(len(cell.lines) for cell in cells):
        return "".join(cell.text for cell in cells), _least(cells)
    return "".join(line.text for line in kept), min((line.confidence for line in kept), default=None)


def _figure_source(cell: Cell) -> tuple[str, float | None]:
    """The text a figure cell is read from and its confidence."""
    line = figure_line(cell)
    return (line.text, line.confidence) if line else (cell.text, cell.confidence)


def _lines_of(cell: Cell) -> list[TextLine]:
    """A cell's lines as OCR read them; a cell given without them (typed, or from a test) is one line."""
    if cell.lines:
        return cell.lines
    return [TextLine(text=cell.text, confidence=cell.confidence or 0.0, box=cell.bbox)]


def _least(cells: list[Cell]) -> float | None:
    values = [c.confidence for c in cells if c.confidence is not None]
    return min(values) if values else None


class Section(StrEnum):
    """The parts of the printed form, in the order a person reads them."""

    header = "header"
    funding = "funding"
    goals = "goals"
    indicators = "indicators"
    closing = "closing"


class FormReader:
    """Walks a form's rows once, section by section, as a person reads the printed form."""

    def __init__(self) -> None:
        self.funding_rows: dict[str, FundingRow] = {name: FundingRow() for name in _FUNDING_ROWS.values()}
        self.header: dict[str, str | int | None] = {}
        self.goals: list[Goal] = []
        self.indicators: list[Indicator] = []
        self.total_weight: Decimal | None = None
        self.total_score: Decimal | None = None
        self.grade: Grade | None = None
        self.funding_columns: dict[Label, Span] = {}
        self.goal_columns: dict[Label, Span] = {}
        self.indicator_columns: dict[Label, Span] = {}
        self.section = Section.header
        self.sources: dict[str, FieldSource] = {}
        self.labels: dict[str, LabelMatch] = {}

    # --- the walk ------------------------------------------------------------------------------

    def read(self, rows: list[GridRow], free_lines: list[TextLine], free_lines_page: int = 1) -> FormReading:
        """Read the rows of one form; `free_lines` are the text outside the tables of its first page
        (`free_lines_page`), where the year line is."""
        self._read_year(free_lines, free_lines_page)
        for row in rows:
            self._read_row(row)
        for indicator in self.indicators:
            indicator.target = with_unit_closed(indicator.target)
            indicator.actual = with_unit_closed(indicator.actual)
        form = Form(
            year=self.header.get("year"),  # type: ignore[arg-type]
            project_name=self.header.get("project_name"),  # type: ignore[arg-type]
            department=self.header.get("department"),  # type: ignore[arg-type]
            implementing_unit=self.header.get("implementing_unit"),  # type: ignore[arg-type]
            funding=Funding(**self.funding_rows),
            goals=self.goals,
            indicators=self.indicators,
            total_weight=self.total_weight,
            total_score=self.total_score,
            grade=self.grade,
        )
        return FormReading(form=form, sources=self.sources, labels=self.labels)

    def _read_row(self, row: GridRow) -> None:
        if self.section in (Section.header, Section.funding) and self._read_header_row(row):
            return
        if self._read_section_header(row):
            return
        if self._read_closing_row(row):
            return
        if self.section is Section.funding:
            self._read_funding_row(row)
        elif self.section is Section.goals:
            self._read_goal_row(row)
        elif self.section is Section.indicators:
            self._read_indicator_row(row)

    def _columns_cut_short(self, row: GridRow, matched: dict[Label, Cell]) -> None:
        """Header cells a page break cut (一级 | 指标): their column is the label they begin. Labels
        still missing then are known by their place (一 of 一级 read as a dash)."""
        missing = tuple(label for label in INDICATOR_COLUMN_LABELS if label not in self.indicator_columns)
        for cell in row.started:
            if cell not in matched.values() and cell.text and (label := label_cut_short(cell.text, missing)):
                self.indicator_columns[label] = cell_span(cell)
                matched = {**matched, label: cell}
                missing = tuple(other for other in missing if other is not label)
        for cell, match in row.placed_labels(matched, INDICATOR_COLUMN_LABELS):
            self.indicator_columns[match.label] = cell_span(cell)

    # --- header -------------------------------------------------------------------------------

    def _read_year(self, free_lines: list[TextLine], page: int) -> None:
        for line in free_lines:
            if match := _YEAR.search(normalize_text(line.text)):
                self.header["year"] = int(match[1])
                self.sources["form.year"] = FieldSource(
                    line.text, line.confidence, places=[Place(page, line.box)]
                )
                return

    def _read_header_row(self, row: GridRow) -> bool:
        found = row.labels((Label.project_name, Label.department, Label.implementing_unit))
        if not found:
            return False
        label_cells = sorted(
            [*found, *_unit_label_between_values(row, found)], key=lambda pair: pair[0].bbox[0]
        )
        for position, (cell, match) in enumerate(label_cells):
            right_edge = label_cells[position + 1][0].bbox[0] if position + 1 < len(label_cells) else 10**9
            values = [c for c in row.started if cell.bbox[2] <= c.bbox[0] + 2 and c.bbox[2] <= right_edge + 2]
            name = match.label.name
            path = form_path(name)
            self.labels[path] = match
            raw, confidence = _name_source(values)
            text = normalize_text(raw)
            self.header[name] = text or None
            if values:
                places = [cell_place(row, c) for c in values]
            else:  # nothing right of the label: the value belongs between it and the next label
                x1 = right_edge if position + 1 < len(label_cells) else max(c.bbox[2] for c in row.cells)
                box = (cell.bbox[2], cell.bbox[1], x1, cell.bbox[3]) if x1 > cell.bbox[2] else cell.bbox
                places = [Place(row.page, box)]
            self.sources[path] = FieldSource(raw, confidence, places=places)
        return True

    # --- section headers --------------------------------------------------------------------------

    def _read_section_header(self, row: GridRow) -> bool:
        funding = row.header_labels(FUNDING_COLUMN_LABELS)
        if len(funding) >= 3 and self.section in (Section.header, Section.funding):
            self.funding_columns = {match.label: cell_span(cell) for cell, match in funding}
            self.section = Section.funding
            return True
        goals = row.labels((Label.expected, Label.actual))
        if len(goals) == 2:
            self.goal_columns = {match.label: cell_span(cell) for cell, match in goals}
            self.section = Section.goals
            return True
        indicators = row.header_labels(INDICATOR_COLUMN_LABELS)
        if len(indicators) >= 4:
            self.indicator_columns = {match.label: cell_span(cell) for cell, match in indicators}
            self._columns_cut_short(row, {match.label: cell for cell, match in indicators})
            self.section = Section.indicators
            return True
        return False

    def _read_closing_row(self, row: GridRow) -> bool:
        found = row.labels((Label.total_score, Label.grade))
        if not found:
            return False
        cell, match = found[0]
        self.section = Section.closing
        if match.label is Label.total_score:
            self.labels["form.total_score"] = match
            self.total_weight = self._number(row, Label.indicator_weight, "form.total_weight")
            self.total_score = self._number(row, Label.score, "form.total_score")
        else:
            self.labels["form.grade"] = match
            right = [c for c in row.started if c.bbox[0] >= cell.bbox[2] - 2]
            values = [c for c in right if c.text.strip()]
            where = values or right
            places = [cell_place(row, c) for c in where] if where else [cell_place(row, cell)]
            self.grade, self.sources["form.grade"] = _read_grade(values, places)
        return True

    def _number(self, row: GridRow, column: Label, path: str) -> Decimal | None:
        span = self.indicator_columns.get(column)
        cell = cell_in_column(row, span) if span else None
        if cell is None:
            places = [column_place(row, span)] if span else []
            self.sources[path] = FieldSource("", None, "no cell under the column", places)
            return None
        raw, confidence = _figure_source(cell)
        reading = read_number(raw)
        self.sources[path] = FieldSource(raw, confidence, reading.problem, [cell_place(row, cell)])
        return reading.value

    # --- funding --------------------------------------------------------------------------------

    def _read_funding_row(self, row: GridRow) -> None:
        found = row.labels(FUNDING_ROW_LABELS) or self._funding_row_resembling(row)
        if not found:
            return
        label_cell, match = found[0]
        name = _FUNDING_ROWS[match.label]
        self.labels[funding_path(name)] = match
        values: dict[str, Decimal | None] = {}
        for label, column in self.funding_columns.items():
            key = _FUNDING_FIELDS[label]
            path = funding_path(name, key)
            cell = cell_in_column(row, column)
            if cell is None or cell is label_cell:
                self.sources[path] = FieldSource(
                    "", None, "no cell under the column", [column_place(row, column)]
                )
                values[key] = None
                continue
            raw, confidence = _figure_source(cell)
            reading = read_number(raw)
            values[key] = reading.value
            self.sources[path] = FieldSource(raw, confidence, reading.problem, [cell_place(row, cell)])
        self.funding_rows[name] = FundingRow(**values)

    def _funding_row_resembling(self, row: GridRow) -> list[tuple[Cell, LabelMatch]]:
        """A funding row whose label matched nothing, known by the one row label still unread that its
        label cell resembles (具中：当年制政援款 for 其中：当年财政拨款, three characters of eight misread).
        The cell must lie left of the figure columns; the figures beside it are then read as usual, and
        the rows' sums check them as they check every row."""
        cells = sorted((cell for cell in row.started if cell.text), key=lambda cell: cell.bbox[0])
        if not cells or not self.funding_columns:
            return []
        first = cells[0]
        if first.bbox[2] > min(left for left, _ in self.funding_columns.values()) + 2:
            return []
        unread = [
            label for label in FUNDING_ROW_LABELS if funding_path(_FUNDING_ROWS[label]) not in self.labels
        ]
        like = [label for label in unread if resembles(first.text, label)]
        if len(like) != 1:
            return []
        return [known_unmatched(first, like[0])]

    # --- goals ----------------------------------------------------------------------------------

    def _read_goal_row(self, row: GridRow) -> None:
        texts = {}
        cells = {}
        for label in (Label.expected, Label.actual):
            span = self.goal_columns[label]
            cell = cell_in_column(row, span)
            cells[label] = cell
            texts[label] = (
                normalize_text(cell.text) if cell and not match_label(cell.text, (Label.goals,)) else ""
            )
        if not texts[Label.expected] and not texts[Label.actual]:
            return
        index = len(self.goals)
        if self.goals and self._continues_goal(row, texts[Label.expected]):
            index -= 1
            previous = self.goals[index]
            previous.expected = normalize_text(previous.expected + texts[Label.expected])
            previous.actual = normalize_text((previous.actual or "") + texts[Label.actual]) or None
        else:
            self.goals.append(Goal(expected=texts[Label.expected], actual=texts[Label.actual] or None))
        for label, key in ((Label.expected, "expected"), (Label.actual, "actual")):
            cell = cells[label]
            if cell is not None:
                self._add_source(goal_path(index, key), row, cell)

    def _continues_goal(self, row: GridRow, expected: str) -> bool:
        """A goal row at the top of a page that carries on the pair the last page cut."""
        if not row.first_on_page:
            return False
        previous = self.goals[-1]
        if not expected:
            return True
        return not previous.expected.endswith(_SENTENCE_END)

    # --- indicators -----------------------------------------------------------------------------

    def _indicator_cell(self, row: GridRow, label: Label) -> Cell | None:
        span = self.indicator_columns.get(label)
        if span is None:
            return None
        return cell_in_column(row, span, include_spanning=label in (Label.level1, Label.level2))

    def _read_indicator_row(self, row: GridRow) -> None:
        cell = {label: self._indicator_cell(row, label) for label in INDICATOR_COLUMN_LABELS}
        for label in (Label.target, Label.actual_value):
            if (found := cell[label]) is not None and (line := measure_line(found)) is not None:
                cell[label] = found.model_copy(
                    update={"text": line.text, "confidence": line.confidence, "lines": [line]}
                )
        text = {label: normalize_text(c.text) if c else "" for label, c in cell.items()}
        figure_text = text[Label.indicator_weight] + text[Label.score]
        # A row with no digit where its figures go carries on the indicator above (a page break cut
        # it) when it has no name, or when it opens its page, the rest of a name the page before began:
        # what stands there is a seal's letters, not figures. Every indicator prints its figures.
        starts_indicator = bool(figure_text) and (
            any(c.isdigit() for c in figure_text) or (bool(text[Label.name]) and not row.first_on_page)
        )
        if not starts_indicator:
            if self.indicators and any(text[label] for label, _ in _CONTINUABLE_COLUMNS):
                self._continue_indicator(row, cell, text)
            return
        previous = self.indicators[-1] if self.indicators else None
        index = len(self.indicators)
        figures = {
            label: _figure_source(found) if (found := cell[label]) else ("", None)
            for label in (Label.indicator_weight, Label.score)
        }
        weight = read_number(normalize_text(figures[Label.indicator_weight][0]))
        score = read_number(normalize_text(figures[Label.score][0]))
        indicator = Indicator(
            level1=canonical_level(text[Label.level1], LEVEL1_NAMES) or (previous.level1 if previous else ""),
            level2=canonical_level(text[Label.level2], LEVEL2_NAMES) or (previous.level2 if previous else ""),
            name=text[Label.name],
            target=text[Label.target] or None,
            actual=text[Label.actual_value] or None,
            weight=weight.value,
            score=score.value,
            deviation_reason=text[Label.deviation_reason] or None,
        )
        self.indicators.append(indicator)
        for label, key in (*_LEVEL_COLUMNS, *_CONTINUABLE_COLUMNS):
            path = indicator_path(index, key)
            if cell[label] is not None and text[label]:
                self._add_source(path, row, cell[label])
            elif label in (Label.level1, Label.level2) and previous is not None:
                # An unread level is the one above (a merged cell): it was read, and sits, there.
                self._inherit_source(path, indicator_path(index - 1, key))
            else:  # an empty cell (no deviation reason given) still has its place on the form
                self._empty_source(path, row, cell[label], self.indicator_columns.get(label))
        for label, key, reading in (
            (Label.indicator_weight, "weight", weight),
            (Label.score, "score", score),
        ):
            found = cell[label]
            span = self.indicator_columns.get(label)
            places = [cell_place(row, found)] if found else [column_place(row, span)] if span else []
            raw, confidence = figures[label]
            self.sources[indicator_path(index, key)] = FieldSource(raw, confidence, reading.problem, places)

    def _continue_indicator(
        self, row: GridRow, cell: dict[Label, Cell | None], text: dict[Label, str]
    ) -> None:
        """A row cut by a page break: its text carries on the last indicator's cells."""
        indicator = self.indicators[-1]
        index = len(self.indicators) - 1
        for label, key in _CONTINUABLE_COLUMNS:
            if not text[label]:
                continue
            setattr(indicator, key, normalize_text((getattr(indicator, key) or "") + text[label]))
            found = cell[label]
            if found is not None:
                self._add_source(indicator_path(index, key), row, found)

    def _add_source(self, path: str, row: GridRow, cell: Cell) -> None:
        """Record a cell a field was read from (a field cut by a page break has several)."""
        place = cell_place(row, cell)
        earlier = self.sources.get(path)
        if earlier is None:
            self.sources[path] = FieldSource(cell.text, cell.confidence, places=[place])
            return
        confidences = [c for c in (earlier.confidence, cell.confidence) if c is not None]
        # The value is where its text is: an empty cell before it was only where it might have been.
        places = [*earlier.places, place] if earlier.raw.strip() else [place, *earlier.places]
        self.sources[path] = FieldSource(
            earlier.raw + cell.text, min(confidences) if confidences else None, earlier.problem, places
        )

    def _empty_source(self, path: str, row: GridRow, cell: Cell | None, column: Span | None) -> None:
        """A field left blank on the form: nothing read, but the place a reviewer would look."""
        if cell is not None:
            places = [cell_place(row, cell)]
        elif column is not None:
            places = [column_place(row, column)]
        else:
            return
        self.sources[path] = FieldSource(cell.text if cell else "", None, places=places)

    def _inherit_source(self, path: str, above: str) -> None:
        """Nothing read here; the value (and the confidence checks) belong to the row above."""
        source = self.sources.get(above)
        if source is not None:
            self.sources[path] = FieldSource("", None, places=list(source.places))
