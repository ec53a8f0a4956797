"""From a read submission (`PageTables`) to one record per form it holds."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from selfeval.contract import (
    Check,
    CheckStatus,
    FieldLocation,
    Provenance,
    Record,
    Severity,
    Submission,
    defaults,
)
from selfeval.contract.ocr import Cell, Page, PageTables
from selfeval.contract.paths import funding_path, indicator_path, value_at
from selfeval.contract.record import FIELD_CONFIDENCE, FIELD_READABLE
from services.parser.labels import Label, contains_label, match_label
from services.parser.reading import FieldSource, FormReader, FormReading, Place
from services.parser.table_rows import rows_of

# Fields a record cannot be verified without (indicator fields are added per row).
_REQUIRED_FORM_FIELDS = (
    "form.year",
    "form.project_name",
    "form.department",
    "form.implementing_unit",
    "form.total_score",
    "form.grade",
)
_REQUIRED_FUNDING = ("initial_budget", "annual_budget", "executed", "execution_rate")
_REQUIRED_INDICATOR = ("name", "weight", "score")


@dataclass(frozen=True)
class FormPages:
    """The pages of a submission that hold one form."""

    pages: list[Page]

    @property
    def numbers(self) -> list[int]:
        return [page.number for page in self.pages]


def starts_form(page: Page) -> bool:
    """A page that starts a form carries the title above (or as the first row of) its table, and its
    table opens with 项目名称: a title the scan left unreadable still leaves that row (a form's later
    pages never open with it)."""
    texts = [line.text for line in page.free_lines]
    for table in page.tables[:1]:
        texts += [cell.text for cell in table.cells if cell.row == 0]
    if any(contains_label(text, Label.title) for text in texts):
        return True
    return any(_opens_with_project_name(table.cells) for table in page.tables)


def _opens_with_project_name(cells: list[Cell]) -> bool:
    first = [cell for cell in cells if cell.row == 0 and cell.col == 0]
    return any(match_label(cell.text, (Label.project_name,)) is not None for cell in first)


def split_forms(pages: list[Page]) -> list[FormPages]:
    """Split a submission into forms: each starts on a page with the title; pages before any title
    belong to no form."""
    forms: list[list[Page]] = []
    for page in pages:
        if starts_form(page):
            forms.append([page])
        elif forms:
            forms[-1].append(page)
    return [FormPages(group) for group in forms]


def required_paths(reading: FormReading) -> list[str]:
    paths = list(_REQUIRED_FORM_FIELDS)
    paths += [
        funding_path(row, column)
        for row in ("total", "current_year_appropriation", "carryover", "other")
        for column in _REQUIRED_FUNDING
    ]
    paths += [funding_path("total", "weight"), funding_path("total", "score")]
    for index in range(len(reading.form.indicators)):
        paths += [indicator_path(index, column) for column in _REQUIRED_INDICATOR]
    return paths


# Prose the arithmetic never reads (names, goals, target texts): a doubtful character there is worth
# a warning; a doubtful figure, grade or header field keeps the record from being verified.
_PROSE_FIELDS = (".name", ".level1", ".level2", ".target", ".actual", ".deviation_reason", ".expected")


def confidence_severity(path: str) -> Severity:
    prose = path.startswith(("form.goals", "form.indicators")) and path.endswith(_PROSE_FIELDS)
    return Severity.warning if prose else Severity.error


# A form prints its figures one way: when nearly all of them show two decimals, one without them is a
# reading that lost its decimal point (180.12 read as 18012, a seal's dot over the point), not a figure
# printed so. At least this many figures with two decimals, and at most this share without.
TWO_DECIMAL_FORM_FIGURES = 10
MOST_BARE_SHARE = Decimal("0.1")


def lost_decimal_checks(reading: FormReading) -> list[Check]:
    """A figure read without the two decimals the form's other figures print: doubtful, never verified.

    The reading is kept as read; the field is named so a reviewer looks at it, and the arithmetic does
    not build a suggestion on it."""
    form = reading.form.model_dump()  # figures keep the decimals they were read with
    figures = {path: value for path in reading.sources if isinstance(value := value_at(form, path), Decimal)}
    bare = [path for path, value in figures.items() if value.as_tuple().exponent != -2]
    if len(figures) - len(bare) < TWO_DECIMAL_FORM_FIGURES or len(bare) > MOST_BARE_SHARE * len(figures):
        return []
    return [
        Check(
            rule=FIELD_CONFIDENCE,
            severity=Severity.error,
            status=CheckStatus.failed,
            message=f"{path} read as {figures[path]} without the two decimals the form's other figures "
            f"print: its decimal point may be lost ({reading.sources[path].raw!r})",
            expected="a figure with two decimals",
            found=str(figures[path]),
            fields=[path],
        )
        for path in bare
    ]


def readability_checks(reading: FormReading, min_confidence: float) -> list[Check]:
    """A required field that is missing, unreadable or read with low confidence: named, never guessed."""
    checks = []
    for path in required_paths(reading):
        source = reading.sources.get(path)
        if source is None:
            problem: str | None = "not found on the form"
        elif source.problem:
            problem = source.problem
        else:
            problem = None if source.raw.strip() else "empty"
        if problem:
            checks.append(_unreadable(path, problem, source))
    required = set(required_paths(reading))
    for path, source in reading.sources.items():
        # A field the record may leave out (the 总分 row's 分值) is still never guessed: printed but
        # unreadable, it keeps the record from being verified like any required one.
        if path not in required and source.problem and source.raw.strip():
            checks.append(_unreadable(path, source.problem, source))
    for path, source in reading.sources.items():
        if source.confidence is not None and source.confidence < min_confidence:
            checks.append(
                Check(
                    rule=FIELD_CONFIDENCE,
                    severity=confidence_severity(path),
                    status=CheckStatus.failed,
                    message=f"{path} read with confidence {source.confidence:.2f} (< {min_confidence:.2f}): "
                    f"{source.raw!r}",
                    expected=f">= {min_confidence:.2f}",
                    found=f"{source.confidence:.2f}",
                    fields=[path],
                )
            )
    checks += lost_decimal_checks(reading)
    if not reading.form.indicators:
        checks.append(
            Check(
                rule=FIELD_READABLE,
                severity=Severity.error,
                status=CheckStatus.failed,
                message="no indicator rows found",
                fields=["form.indicators"],
            )
        )
    return checks


def _unreadable(path: str, problem: str | None, source: FieldSource | None) -> Check:
    return Check(
        rule=FIELD_READABLE,
        severity=Severity.error,
        status=CheckStatus.failed,
        message=f"{path}: {problem}",
        found=source.raw if source else None,
        fields=[path],
    )


def location_on(page: Page, place: Place) -> FieldLocation:
    """A place in a page's pixels as fractions of the page's width and height (boxes the OCR drew a
    pixel past the edge are held to the page)."""
    x0, y0, x1, y1 = place.box

    def fraction(value: int, size: int) -> float:
        return round(min(1.0, max(0.0, value / size)), 5)

    return FieldLocation(
        page=place.page,
        box=(
            fraction(x0, page.width),
            fraction(y0, page.height),
            fraction(x1, page.width),
            fraction(y1, page.height),
        ),
    )


def field_locations(reading: FormReading, pages: list[Page]) -> dict[str, FieldLocation]:
    """Where each field read sits on the scan, for the reviewer's page with boxes."""
    by_number = {page.number: page for page in pages}
    locations = {}
    for path, source in reading.sources.items():
        place = source.where()
        if place is not None and place.page in by_number:
            locations[path] = location_on(by_number[place.page], place)
    return locations


def record_for(
    form_pages: FormPages, tables: PageTables, min_confidence: float = defaults.MIN_CONFIDENCE
) -> Record:
    first = form_pages.pages[0]
    reading = FormReader().read(rows_of(form_pages.pages), first.free_lines, first.number)
    provenance = Provenance(
        models=tables.models,
        field_confidence={p: s.confidence for p, s in reading.sources.items() if s.confidence is not None},
        raw_text={path: source.raw for path, source in reading.sources.items()},
        labels={
            path: {"label": m.label.value, "read": m.read, "score": m.score}
            for path, m in reading.labels.items()
        },
        field_locations=field_locations(reading, form_pages.pages),
    )
    return Record(
        submission=Submission(sha256=tables.sha256, source=tables.source, pages=form_pages.numbers),
        form=reading.form,
        checks=readability_checks(reading, min_confidence),
        provenance=provenance,
    )


def parse_submission(tables: PageTables, min_confidence: float = defaults.MIN_CONFIDENCE) -> list[Record]:
    """One record per form of the submission; a submission with no form gives one rejected record."""
    forms = split_forms(tables.pages)
    if not forms:
        pages = [page.number for page in tables.pages]
        reason = "not a 财政项目支出绩效自评表: no form title found on any page"
        return [Record.rejected(tables.sha256, tables.source, pages, reason)]
    return [record_for(form_pages, tables, min_confidence) for form_pages in forms]
