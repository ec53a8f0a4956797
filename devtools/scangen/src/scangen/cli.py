"""Command line: make scans (PDF, PNG, TIFF) and their truth JSON from fixture or random forms."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from selfeval.contract.record import Form, Record

from .degrade import PRESETS
from .fonts import FontFamily
from .output import write_pdf, write_png, write_tiff, write_truth
from .scan import scan_forms
from .variants import random_form


def load_form(path: Path) -> Form:
    """A fixture file holds a Record ({"form": {...}, ...}); a bare Form is accepted too."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return Record.model_validate(data).form if "form" in data else Form.model_validate(data)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scangen", description=__doc__)
    parser.add_argument("--form", action="append", type=Path, default=[], help="form/record JSON; repeatable")
    parser.add_argument("--random", type=int, default=0, metavar="N", help="add N random forms")
    parser.add_argument("--quality", choices=PRESETS, default="office")
    parser.add_argument("--dpi", type=int, choices=(150, 200, 300), default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--font", choices=[f.value for f in FontFamily], default=FontFamily.sans.value)
    parser.add_argument("--thousands", choices=("no", "yes", "random"), default="no")
    parser.add_argument("--signature", action="store_true", help="add a pen scribble by the grade")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--pdf", default="scan.pdf", help="PDF file name inside --out ('' for none)")
    parser.add_argument("--png", action="store_true", help="also write one PNG per page")
    parser.add_argument("--tiff", default="", help="also write a multi-page TIFF of this name")
    return parser


def collect_forms(args: argparse.Namespace) -> list[Form]:
    forms = [load_form(path) for path in args.form]
    forms += [random_form(args.seed * 10_000 + i) for i in range(args.random)]
    if not forms:
        raise SystemExit("give at least one --form or --random N")
    return forms


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    forms = collect_forms(args)
    thousands = {"no": False, "yes": True, "random": None}[args.thousands]
    pages = scan_forms(forms, args.quality, args.dpi, args.seed, args.font, thousands, args.signature)
    args.out.mkdir(parents=True, exist_ok=True)
    written = [write_truth(pages, args.out / "truth.json", forms)]
    if args.pdf:
        written.append(write_pdf(pages, args.out / args.pdf))
    if args.png:
        written.extend(write_png(pages, args.out))
    if args.tiff:
        written.append(write_tiff(pages, args.out / args.tiff))
    print(f"{len(forms)} form(s), {len(pages)} page(s):")
    for path in written:
        print(f"  {path}")
    return 0
