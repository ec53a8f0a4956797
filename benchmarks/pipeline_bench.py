"""Throughput of the full pipeline against the in-process chain, and of OCR scaled out to 2 processes.

    python benchmarks/pipeline_bench.py [--forms 8] [--skip-scaling]

From one run on the same generated scans (the eight real forms, office quality, one PDF each):
1. `selfeval process`'s chain in one process (warm engine, SELFEVAL_OCR_THREADS threads): seconds.
2. The same files dropped into the inbox of a running `selfeval up` (warm services, the same threads):
   seconds from the drop to the last record on `selfeval.records.>`. Overhead = 2 / 1 - 1.
3. OCR throughput (pages per second) of `selfeval up` with two OCR processes of one thread each
   against one process of one thread.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from selfeval.chain import process_bytes
from services.ocr import InputRejected, OcrEngine, OcrSettings
from tests.conftest import REAL_FORMS, load_fixture
from tests.pipeline.records_stream import collect_records
from tests.pipeline.system import start_system
from tests.scangen import scan_forms, write_pdf


def make_scans(directory: Path, count: int) -> tuple[list[Path], int]:
    paths, pages = [], 0
    for index, fixture in enumerate((REAL_FORMS * 4)[:count]):
        scan = scan_forms([load_fixture(fixture).form], quality="office", dpi=200, seed=100 + index)
        pages += len(scan)
        paths.append(Path(write_pdf(scan, directory / f"{index:02d}-{fixture.stem}.pdf")))
    return paths, pages


def in_process_seconds(scans: list[Path], threads: int) -> float:
    engine = OcrEngine(OcrSettings(threads=threads))  # warmed up on construction
    started = time.perf_counter()
    for path in scans:
        process_bytes(engine, path.read_bytes(), path.name, 0.8, (InputRejected,))
    return time.perf_counter() - started


def pipeline_seconds(scans: list[Path], home: Path, env: dict[str, str]) -> float:
    system = start_system(home, env)
    try:
        time.sleep(5)  # let every service finish loading before the clock starts
        started = time.perf_counter()
        for path in scans:
            shutil.copy(path, home / "inbox" / path.name)
        records = collect_records(system.nats_url, expected=len(scans), timeout=1800, linger=0)
        elapsed = time.perf_counter() - started
        assert len(records) == len(scans), f"{len(records)} records for {len(scans)} scans"
        return elapsed
    finally:
        system.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--forms", type=int, default=8, help="how many scans (one form each)")
    parser.add_argument("--threads", type=int, default=2, help="OCR threads for parts 1 and 2")
    parser.add_argument("--skip-scaling", action="store_true", help="skip part 3")
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    root = Path(tempfile.mkdtemp(prefix="selfeval-bench-"))
    scans, pages = make_scans(root, args.forms)
    print(f"{len(scans)} scans, {pages} pages (office quality, 200 dpi)")

    alone = in_process_seconds(scans, args.threads)
    print(f"in one process : {alone:7.1f} s  ({pages / alone:.2f} pages/s)")
    threads = {"SELFEVAL_OCR_THREADS": str(args.threads)}
    piped = pipeline_seconds(scans, root / "pipeline", threads)
    print(f"full pipeline  : {piped:7.1f} s  ({pages / piped:.2f} pages/s)")
    print(f"overhead       : {piped / alone - 1:+7.1%}  (goal ≤ +10 %)")

    if not args.skip_scaling:
        one = pipeline_seconds(
            scans, root / "one", {"SELFEVAL_OCR_THREADS": "1", "SELFEVAL_OCR_PROCESSES": "1"}
        )
        two = pipeline_seconds(
            scans, root / "two", {"SELFEVAL_OCR_THREADS": "1", "SELFEVAL_OCR_PROCESSES": "2"}
        )
        print(f"1 OCR process  : {pages / one:.2f} pages/s  ({one:.1f} s)")
        print(f"2 OCR processes: {pages / two:.2f} pages/s  ({two:.1f} s)")
        print(f"scaling        : {one / two:.2f}x  (goal ≥ 1.7x on 2 cores)")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
