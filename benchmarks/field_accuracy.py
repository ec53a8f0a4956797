"""Field accuracy of the whole chain (OCR → parse → score) on drawn scans: typeface × scan mode × quality.

    python -m benchmarks.field_accuracy [--quick] [--split dev|heldout] [--forms N]
        [--quality clean office poor] [--family song fangsong kai hei] [--face KEY …]
        [--mode colour grey bw] [--reader small|tiny] [--seed 1]

Each cell of the matrix draws --forms forms (the eight real forms and random ones, in turn), each as its
own PDF, with the cell's typeface family (or face), scan mode and quality fixed and every other choice
(face of the family, seal ink and place, layout, geometry, light) drawn from the seed. It prints per
cell: forms, forms verified, figures exact, texts exact, forms verified with a wrong figure (must be 0),
seconds per page of the in-process chain; totals per quality, and how many forms were verified with a
header field (year, project, department, unit) read wrong; the OCR engine's start time; and, per
quality, over the records that need review: the median and largest number of fields a reviewer must
look at (`Record.fields_needing_review()`), and how often the arithmetic's suggestion for such a field
is the value the form really carries (overall, and where it differs from the value read). Every figure
comes from this one run.
--quick is one form per cell (a smoke check); the default is four.
--split heldout draws faces, seal shapes, random forms and seeds the development split never uses.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from scangen import Family, ScanMode, Split, random_form, scan_forms, write_pdf
from scangen.compare import field_differences, is_figure, leaf_values
from scangen.fixtures import real_forms
from scangen.look import QUALITIES
from selfeval.contract import Form, Record, Status
from selfeval.in_process import process_bytes
from services.ocr import InputRejected, OcrEngine, OcrSettings
from services.ocr.models import LINE_READERS

MIN_CONFIDENCE = 0.8
HEADER_FIELDS = ("form.year", "form.project_name", "form.department", "form.implementing_unit")
"""fields a verified record must have read with confidence, though no arithmetic checks them"""


@dataclass
class Review:
    """What `needs_review` records ask of a reviewer, and how good the arithmetic's suggestions are."""

    fields_per_record: list[int] = field(default_factory=list)
    suggested: int = 0  # fields needing review that carry a suggestion
    suggested_true: int = 0  # … whose suggestion is the form's true value
    changing: int = 0  # suggestions that differ from the value read
    changing_true: int = 0  # … and are the true value: a misread (or unread) value the arithmetic fixes

    def add(self, other: Review) -> None:
        self.fields_per_record += other.fields_per_record
        self.suggested += other.suggested
        self.suggested_true += other.suggested_true
        self.changing += other.changing
        self.changing_true += other.changing_true


@dataclass
class Cell:
    """What one cell of the matrix (or a total over cells) measured."""

    forms: int = 0
    verified: int = 0
    verified_wrong: int = 0  # verified although a figure was read wrong: must stay 0
    verified_wrong_header: int = 0  # verified although a header field (no arithmetic checks it) is wrong
    figures: int = 0
    figures_exact: int = 0
    texts: int = 0
    texts_exact: int = 0
    pages: int = 0
    seconds: float = 0.0
    review: Review = field(default_factory=Review)

    def add(self, other: Cell) -> None:
        for name in (
            "forms",
            "verified",
            "verified_wrong",
            "verified_wrong_header",
            "figures",
            "figures_exact",
            "texts",
            "texts_exact",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.pages += other.pages
        self.seconds += other.seconds
        self.review.add(other.review)


def review_of(record: Record, form: Form) -> Review:
    """A `needs_review` record's fields to look at, and its suggestions judged against the true form."""
    truth, read = leaf_values(form), leaf_values(record.form)
    review = Review(fields_per_record=[len(record.fields_needing_review())])
    for path, suggestion in record.provenance.suggestions.items():
        true = path in truth and _same(path, suggestion.value, truth[path])
        changes = not _same(path, suggestion.value, read.get(path))
        review.suggested += 1
        review.suggested_true += true
        review.changing += changes
        review.changing_true += changes and true
    return review


def _same(path: str, text: str, value: Any) -> bool:
    """A suggestion (as typed) against a form's value (as JSON): figures as numbers, "98.2" = "98.20"."""
    if value is None:
        return False
    return Decimal(text) == Decimal(value) if is_figure(path) else text == str(value)


def measure_form(engine: OcrEngine, form: Form, pdf: Path, pages: int) -> Cell:
    started = time.perf_counter()
    records = process_bytes(engine, pdf.read_bytes(), pdf.name, MIN_CONFIDENCE, (InputRejected,))
    seconds = time.perf_counter() - started
    # One form per PDF: the record read from it, or none when the chain found no form.
    cell = judged(records[0] if len(records) == 1 else None, form)
    cell.pages, cell.seconds = pages, seconds
    return cell


def judged(record: Record | None, form: Form) -> Cell:
    """One form's record (None: no form found) against the form it was drawn from."""
    wrong = set(_wrong_fields(record, form))
    truth = leaf_values(form)
    figures = [path for path in truth if is_figure(path)]
    cell = Cell(forms=1, figures=len(figures), texts=len(truth) - len(figures))
    cell.figures_exact = sum(path not in wrong for path in figures)
    cell.texts_exact = cell.texts - sum(1 for path in wrong if path in truth and not is_figure(path))
    if record is not None and record.status is Status.verified:
        cell.verified = 1
        cell.verified_wrong = int(cell.figures_exact < cell.figures)
        cell.verified_wrong_header = int(any(path in wrong for path in HEADER_FIELDS))
    if record is not None and record.status is Status.needs_review:
        cell.review = review_of(record, form)
    return cell


def _wrong_fields(record: Record | None, form: Form) -> Iterator[str]:
    if record is None:
        yield from leaf_values(form)
        return
    for difference in field_differences(record.form, form):
        path = difference.split(":")[0]
        # A list of the wrong length (or a missing block) names the list; each leaf under it is wrong.
        yield from (
            leaf for leaf in leaf_values(form) if leaf == path or leaf.startswith((path + "[", path + "."))
        )


def cell_forms(split: Split, count: int, offset: int) -> Iterator[tuple[int, Form]]:
    """`count` forms for a cell: real and random ones in turn, each with its own seed."""
    real = [record.form for record in real_forms()]
    for j in range(count):
        k = offset + j
        if k % 2 == 0:
            yield k, real[(k // 2) % len(real)]
        else:
            yield k, random_form(5000 + k, heldout=split is Split.heldout)


@dataclass(frozen=True)
class Axis:
    quality: str
    typeface: str  # a family, or a face key with --face
    mode: str


def drawn_cells(
    args: argparse.Namespace, typefaces: Sequence[str]
) -> Iterator[tuple[Axis, list[tuple[int, Form, int]]]]:
    """The matrix's cells in order, each with its forms as (number, form, scan seed): the one draw every
    benchmark that draws scans makes, so that they all read the same forms for the same options."""
    number = 0
    for quality in args.quality:
        for typeface in typefaces:
            for mode in args.mode:
                forms = cell_forms(args.split, args.forms, number * args.forms)
                yield Axis(quality, typeface, mode), [(k, form, args.seed * 100_000 + k) for k, form in forms]
                number += 1


def run(args: argparse.Namespace, engine: OcrEngine, workdir: Path) -> dict[Axis, Cell]:
    results: dict[Axis, Cell] = {}
    for axis, forms in drawn_cells(args, args.face or args.family):
        quality, typeface, mode = axis.quality, axis.typeface, axis.mode
        results[axis] = Cell()
        for k, form, seed in forms:
            pages = scan_forms([form], quality, seed=seed, font=typeface, mode=mode, split=args.split)
            pdf = write_pdf(pages, workdir / f"{quality}-{typeface}-{mode}-{k}.pdf")
            results[axis].add(measure_form(engine, form, pdf, len(pages)))
        print_row(axis, results[axis])
    return results


HEADER = (
    f"{'quality':<7} {'typeface':<18} {'mode':<6} {'forms':>5} {'verified':>8} "
    f"{'figures exact':>20} {'texts exact':>20} {'verified+wrong':>14} {'s/page':>6}"
)


def print_row(axis: Axis, cell: Cell) -> None:
    print(
        f"{axis.quality:<7} {axis.typeface:<18} {axis.mode:<6} {cell.forms:>5} "
        f"{cell.verified:>4}/{cell.forms:<3} "
        f"{_share(cell.figures_exact, cell.figures):>20} {_share(cell.texts_exact, cell.texts):>20} "
        f"{cell.verified_wrong:>14} {cell.seconds / max(1, cell.pages):>6.2f}",
        flush=True,
    )


REVIEW_HEADER = (
    f"{'quality':<7} {'records':>7} {'fields median':>13} {'largest':>7} "
    f"{'fields with a suggestion':>24} {'suggestion true':>20} {'differs from read, true':>23}"
)


def print_review(quality: str, review: Review) -> None:
    counts = review.fields_per_record
    fields = sum(counts)
    median = f"{statistics.median(counts):g}" if counts else "-"
    print(
        f"{quality:<7} {len(counts):>7} {median:>13} {max(counts, default=0):>7} "
        f"{_share(review.suggested, fields):>24} {_share(review.suggested_true, review.suggested):>20} "
        f"{_share(review.changing_true, review.changing):>23}"
    )


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} {part / whole:7.2%}" if whole else "-"


def print_summary(results: dict[Axis, Cell], engine_start: float) -> None:
    print("\ntotals per quality")
    print(HEADER)
    everything = Cell()
    totals: dict[str, Cell] = {}
    for quality in dict.fromkeys(axis.quality for axis in results):
        total = totals[quality] = Cell()
        for axis, cell in results.items():
            if axis.quality == quality:
                total.add(cell)
        everything.add(total)
        print_row(Axis(quality, "all", "all"), total)
    print(f"\nOCR engine start (OcrEngine constructed, ready to read): {engine_start:.2f} s")
    print(
        "\nneeds_review records per quality: fields a reviewer must look at, and the arithmetic's suggestions"
    )
    print(REVIEW_HEADER)
    for quality, total in totals.items():
        print_review(quality, total.review)
    banner = "!!! " if everything.verified_wrong else ""
    print(
        f"\n{banner}FORMS VERIFIED WITH A WRONG FIGURE: {everything.verified_wrong} (must be 0){banner[::-1]}"
    )
    print(
        f"forms verified with a header field read wrong (no rule checks it, its confidence alone): "
        f"{everything.verified_wrong_header}"
    )


def draw_parser(description: str | None) -> argparse.ArgumentParser:
    """The options that say which scans a benchmark draws: shared by every benchmark that draws them."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="one form per cell (a smoke check)")
    parser.add_argument("--forms", type=int, help="forms per cell (default 4; 1 with --quick)")
    parser.add_argument("--split", type=Split, choices=list(Split), default=Split.dev)
    parser.add_argument("--quality", nargs="+", choices=QUALITIES, default=list(QUALITIES))
    parser.add_argument("--family", nargs="+", choices=list(Family), default=list(Family))
    parser.add_argument("--mode", nargs="+", choices=list(ScanMode), default=list(ScanMode))
    parser.add_argument("--seed", type=int, default=1)
    return parser


def parse_draw(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    args = parser.parse_args(argv)
    args.forms = args.forms or (1 if args.quick else 4)
    return args


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = draw_parser(__doc__)
    parser.add_argument("--face", nargs="+", help="rows by face (keys of scangen.FACES) instead of by family")
    parser.add_argument("--reader", default="small", choices=sorted(LINE_READERS), help="line reader")
    return parse_draw(parser, argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    engine = OcrEngine(OcrSettings(line_reader=args.reader))
    engine_start = time.perf_counter() - started
    print(f"split {args.split}, {args.forms} form(s) per cell, seed {args.seed}, reader {args.reader}\n")
    print(HEADER)
    with tempfile.TemporaryDirectory(prefix="selfeval-accuracy-") as workdir:
        results = run(args, engine, Path(workdir))
    print_summary(results, engine_start)


if __name__ == "__main__":
    main()
