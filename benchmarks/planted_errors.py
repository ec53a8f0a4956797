"""Planted arithmetic mistakes through the whole chain (scan → OCR → parse → score): none may be verified.

    python -m benchmarks.planted_errors [--quick] [--split dev|heldout] [--forms N]
        [--quality clean office poor] [--family song fangsong kai hei] [--mode colour grey bw] [--seed 1]

Each cell of the matrix (quality × typeface family × scan mode) draws --forms forms, as
`benchmarks.field_accuracy` does (the eight real forms and random ones in turn, every other choice drawn
from the seed), plants one mistake on each (`scangen.planted`: the mistakes of the planted fixtures, in
turn), scans it and runs it through the chain. It prints per cell, per quality and per mistake:

  named      needs_review, and the planted mistake's own rule fails: the reviewer is shown the mistake
  review     needs_review for another reason (a figure the rule needs was unread or unsure)
  no form    the chain found no form in the scan (rejected with the reason)
  VERIFIED   the record came out verified although it carries the mistake: must be 0

--quick is one form per cell (a smoke check); the default is four.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from benchmarks.field_accuracy import MIN_CONFIDENCE, Axis, draw_parser, drawn_cells, parse_draw
from scangen import scan_forms, write_pdf
from scangen.planted import Mistake, plant
from selfeval.contract import Record, Status
from selfeval.in_process import process_bytes
from services.ocr import InputRejected, OcrEngine, OcrSettings

MISTAKES = list(Mistake)


@dataclass
class Caught:
    """How the chain met the planted mistakes of one cell (or of a total)."""

    scans: int = 0
    named: int = 0
    review: int = 0
    no_form: int = 0
    verified: int = 0  # a planted mistake verified (or anything but needs_review): must stay 0
    pages: int = 0
    seconds: float = 0.0

    def add(self, other: Caught) -> None:
        for name in (counter.name for counter in fields(self)):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def outcome(records: list[Record], mistake: Mistake) -> Caught:
    """One planted scan's outcome: its one record named the mistake, needed review, or was verified."""
    if len(records) != 1 or records[0].status is Status.rejected:
        return Caught(scans=1, no_form=1)
    (record,) = records
    if record.status is not Status.needs_review:
        return Caught(scans=1, verified=1)
    named = mistake.value in record.failed_rules()
    return Caught(scans=1, named=int(named), review=int(not named))


def run(args: argparse.Namespace, engine: OcrEngine, workdir: Path) -> dict[Axis, dict[Mistake, Caught]]:
    results: dict[Axis, dict[Mistake, Caught]] = {}
    for axis, forms in drawn_cells(args, args.family):
        quality, family, mode = axis.quality, axis.typeface, axis.mode
        by_mistake = results[axis] = {}
        for k, form, seed in forms:
            mistake = MISTAKES[k % len(MISTAKES)]
            pages = scan_forms(
                [plant(form, mistake)], quality, seed=seed, font=family, mode=mode, split=args.split
            )
            pdf = write_pdf(pages, workdir / f"{quality}-{family}-{mode}-{k}-{mistake}.pdf")
            started = time.perf_counter()
            records = process_bytes(engine, pdf.read_bytes(), pdf.name, MIN_CONFIDENCE, (InputRejected,))
            caught = outcome(records, mistake)
            caught.pages, caught.seconds = len(pages), time.perf_counter() - started
            by_mistake.setdefault(mistake, Caught()).add(caught)
        print_row(f"{quality:<7} {family:<8} {mode:<6}", _sum(by_mistake.values()))
    return results


HEADER = f"{'':<29} {'scans':>5} {'named':>13} {'review':>13} {'no form':>7} {'VERIFIED':>8} {'s/page':>6}"


def print_row(label: str, caught: Caught) -> None:
    print(
        f"{label:<29} {caught.scans:>5} {_share(caught.named, caught.scans):>13} "
        f"{_share(caught.review, caught.scans):>13} {caught.no_form:>7} {caught.verified:>8} "
        f"{caught.seconds / max(1, caught.pages):>6.2f}",
        flush=True,
    )


def _share(part: int, whole: int) -> str:
    return f"{part} {part / whole:6.1%}" if whole else "-"


def _sum(parts: Iterable[Caught]) -> Caught:
    total = Caught()
    for part in parts:
        total.add(part)
    return total


def print_summary(results: dict[Axis, dict[Mistake, Caught]]) -> None:
    print("\ntotals per quality")
    print(HEADER)
    for quality in dict.fromkeys(axis.quality for axis in results):
        cells = [caught for axis, by in results.items() if axis.quality == quality for caught in by.values()]
        print_row(f"{quality:<7} all", _sum(cells))
    print("\ntotals per mistake (its rule)")
    print(HEADER)
    for mistake in MISTAKES:
        print_row(mistake.value, _sum([by[mistake] for by in results.values() if mistake in by]))
    missed = _sum([caught for by in results.values() for caught in by.values()]).verified
    banner = "!!! " if missed else ""
    print(f"\n{banner}PLANTED MISTAKES VERIFIED: {missed} (must be 0){banner[::-1]}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    return parse_draw(draw_parser(__doc__), argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    engine = OcrEngine(OcrSettings())
    print(f"split {args.split}, {args.forms} form(s) per cell, seed {args.seed}\n")
    print(HEADER)
    with tempfile.TemporaryDirectory(prefix="selfeval-planted-") as workdir:
        results = run(args, engine, Path(workdir))
    print_summary(results)


if __name__ == "__main__":
    main()
