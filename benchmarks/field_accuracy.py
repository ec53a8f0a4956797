"""Field-level accuracy of the whole chain (OCR → parse → score) on generated scans.

    python -m benchmarks.field_accuracy [--quality clean office poor] [--random 4] [--seed 1]
        [--reader small|tiny]

Renders the eight real forms (tests/fixtures/forms) and some random variants at each quality, reads
them with the in-process chain and prints, per quality: fields read exactly, figures read exactly,
forms verified, and seconds per page.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from scangen import random_form, scan_forms, write_pdf
from scangen.compare import count_fields, field_differences, leaf_values
from scangen.fixtures import REAL_FORMS, load_fixture
from selfeval.chain import process_bytes
from selfeval.contract import Form, Status
from services.ocr import InputRejected, OcrEngine, OcrSettings
from services.ocr.models import LINE_READERS

FIGURES = (
    "initial_budget",
    "annual_budget",
    "executed",
    "weight",
    "execution_rate",
    "score",
    "total_score",
    "total_weight",
)


def measure(engine: OcrEngine, forms: list[Form], quality: str, seed: int, workdir: Path) -> dict[str, float]:
    fields = exact = figures = figures_exact = verified = pages = 0
    seconds = 0.0
    for index, form in enumerate(forms):
        scan = scan_forms([form], quality=quality, dpi=200, seed=seed + index)
        pdf = Path(write_pdf(scan, workdir / f"{quality}-{index}.pdf"))
        started = time.perf_counter()
        (record,) = process_bytes(engine, pdf.read_bytes(), pdf.name, 0.8, (InputRejected,))
        seconds += time.perf_counter() - started
        pages += len(scan)
        differences = field_differences(record.form, form)
        total = count_fields(form)
        fields += total
        exact += total - len(differences)
        form_figures = sum(1 for path in leaf_values(form) if path.endswith(FIGURES))
        figures += form_figures
        figures_exact += form_figures - sum(1 for d in differences if d.split(":")[0].endswith(FIGURES))
        verified += record.status is Status.verified
    return {
        "forms": len(forms),
        "fields": fields,
        "exact": exact,
        "figures": figures,
        "figures_exact": figures_exact,
        "verified": verified,
        "seconds_per_page": seconds / pages,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quality", nargs="+", default=["clean", "office", "poor"])
    parser.add_argument("--random", type=int, default=4, help="random variants besides the eight real forms")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reader", default="small", choices=sorted(LINE_READERS), help="line reader")
    args = parser.parse_args()
    forms = [load_fixture(path).form for path in REAL_FORMS] + [
        random_form(1000 + i) for i in range(args.random)
    ]
    engine = OcrEngine(OcrSettings(line_reader=args.reader))
    workdir = Path("/tmp/selfeval-accuracy")
    workdir.mkdir(exist_ok=True)
    header = ("quality", "forms", "fields exact", "figures exact", "verified", "s/page")
    print(f"{header[0]:<8} {header[1]:>5} {header[2]:>18} {header[3]:>18} {header[4]:>9} {header[5]:>7}")
    for quality in args.quality:
        m = measure(engine, forms, quality, args.seed, workdir)
        print(
            f"{quality:<8} {m['forms']:>5} "
            f"{m['exact']:>6}/{m['fields']:<5} {m['exact'] / m['fields']:6.2%} "
            f"{m['figures_exact']:>6}/{m['figures']:<5} {m['figures_exact'] / m['figures']:6.2%} "
            f"{m['verified']:>4}/{m['forms']:<4} {m['seconds_per_page']:7.2f}"
        )


if __name__ == "__main__":
    main()
