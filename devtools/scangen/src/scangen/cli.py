"""Draw scans (PDF, TIFF, PNG) of fixture or random forms, with their truth.json.

Every choice of the look (typeface, scan mode, seal, geometry, light) is drawn from --seed within the
preset --quality unless given. --split heldout draws from faces, seal shapes, random forms and random
streams that development draws never use.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from selfeval.contract.record import Form, Record

from .fixtures import REAL_FORMS
from .fonts import FACES, Family
from .look import QUALITIES, Look, ScanMode, SealInk, SealPlace, Split
from .output import write_pdf, write_png, write_tiff, write_truth
from .scan import choose_look, scan_with_look
from .seal import SealShape
from .variants import random_form


def load_form(path: Path) -> Form:
    """A fixture file holds a Record ({"form": {...}, ...}); a bare Form is accepted too."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return Record.model_validate(data).form if "form" in data else Form.model_validate(data)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scangen", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    forms = parser.add_argument_group("forms")
    forms.add_argument("--form", action="append", type=Path, default=[], help="form/record JSON; repeatable")
    forms.add_argument("--real", action="store_true", help="the eight real forms of tests/fixtures/forms")
    forms.add_argument("--random", type=int, default=0, metavar="N", help="add N random forms")
    look = parser.add_argument_group("the look (drawn from --seed unless given)")
    look.add_argument("--quality", choices=QUALITIES, default="office")
    look.add_argument("--split", choices=[s.value for s in Split], default=Split.dev.value)
    look.add_argument("--seed", type=int, default=0)
    look.add_argument("--classic", action="store_true", help="start from the first generator's look")
    look.add_argument("--dpi", type=int, help="150 to 300 (preset: clean 300, office 200, poor 150)")
    look.add_argument(
        "--font", metavar="FACE|FAMILY", help=f"{', '.join(Family)}, or a face: {', '.join(FACES)}"
    )
    look.add_argument("--mode", choices=[m.value for m in ScanMode])
    look.add_argument("--seal", choices=[s.value for s in SealInk], help="the seal's ink, or none")
    look.add_argument("--seal-at", choices=[p.value for p in SealPlace])
    look.add_argument("--seal-shape", choices=[s.value for s in SealShape])
    look.add_argument("--thousands", choices=("no", "yes", "random"), help="3,900.00 instead of 3900.00")
    look.add_argument(
        "--signature", action=argparse.BooleanOptionalAction, help="a pen scribble by the grade"
    )
    look.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any other choice of the look by name, e.g. perspective=0.02 curl=0.6 shadow_edge=left "
        f"jpeg_quality=50 (names: {', '.join(f.name for f in fields(Look))})",
    )
    out = parser.add_argument_group("output")
    out.add_argument("--out", type=Path, required=True)
    out.add_argument(
        "--each",
        action="store_true",
        help="one scan per form, each with its own look (seed*1000+i), files prefixed 001-, 002-, …",
    )
    out.add_argument("--pdf", default="scan.pdf", help="PDF file name inside --out ('' for none)")
    out.add_argument("--png", action="store_true", help="also write one PNG per page")
    out.add_argument("--tiff", default="", help="also write a multi-page TIFF of this name")
    return parser


def collect_forms(args: argparse.Namespace) -> list[Form]:
    forms = [load_form(path) for path in [*(REAL_FORMS if args.real else []), *args.form]]
    heldout = args.split == Split.heldout.value
    forms += [random_form(args.seed * 10_000 + i, heldout) for i in range(args.random)]
    if not forms:
        raise SystemExit("give at least one --form, --real or --random N")
    return forms


def parse_settings(pairs: Sequence[str]) -> dict[str, Any]:
    """NAME=VALUE pairs as the look's field types want them (numbers, booleans, names)."""
    types = {f.name: f.type for f in fields(Look)}
    settings: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or name not in types:
            raise SystemExit(f"--set {pair!r}: expected NAME=VALUE with NAME one of {', '.join(types)}")
        settings[name] = _value(text, str(types[name]))
    return settings


def _value(text: str, kind: str) -> Any:
    if text == "none" and "None" in kind:
        return None
    if kind.startswith("bool"):
        return text.lower() in ("1", "true", "yes")
    if kind.startswith("int"):
        return int(text)
    if kind.startswith("float"):
        return float(text)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    forms = collect_forms(args)
    thousands = {None: None, "no": False, "yes": True, "random": None}[args.thousands]
    flags = {
        "dpi": args.dpi,
        "mode": args.mode,
        "seal": args.seal,
        "seal_at": args.seal_at,
        "seal_shape": args.seal_shape,
        "thousands": thousands,
        "signature": args.signature,
    }
    choices = {name: value for name, value in flags.items() if value is not None} | parse_settings(args.set)
    args.out.mkdir(parents=True, exist_ok=True)
    # --each: one document per form, each drawn from its own seed; else one document of all forms.
    batches = [(f"{i + 1:03d}-", [form], args.seed * 1000 + i) for i, form in enumerate(forms)]
    for prefix, batch, seed in batches if args.each else [("", forms, args.seed)]:
        try:
            look = choose_look(args.quality, seed, args.split, args.classic, args.font, **choices)
        except ValueError as error:
            raise SystemExit(str(error)) from None
        write_scan(args, prefix, batch, look, seed)
    return 0


def write_scan(args: argparse.Namespace, prefix: str, forms: list[Form], look: Look, seed: int) -> None:
    pages = scan_with_look(forms, look, seed)
    written = [write_truth(pages, args.out / f"{prefix}truth.json", forms)]
    if args.pdf:
        written.append(write_pdf(pages, args.out / f"{prefix}{args.pdf}"))
    if args.png:
        written.extend(write_png(pages, args.out, stem=f"{prefix}page"))
    if args.tiff:
        written.append(write_tiff(pages, args.out / f"{prefix}{args.tiff}"))
    print(
        f"{len(forms)} form(s), {len(pages)} page(s): {look.face} ({look.family}), {look.mode}, "
        f"seal {look.seal} at {look.seal_at}, {look.dpi} dpi, {look.quality}, {look.split}, seed {seed}"
    )
    for path in written:
        print(f"  {path}")
