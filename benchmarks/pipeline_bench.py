"""Throughput of the full pipeline against the in-process chain, and of OCR scaled out to 2 processes.

    python -m benchmarks.pipeline_bench [--forms 16] [--skip-scaling]

From one run on the same generated scans (the eight real forms, office quality, one PDF each, each
form again with other noise when --forms > 8):
1. `selfeval process`'s chain in one process, as it runs by default (warm engine, one thread per core):
   seconds.
2. The same files dropped into the inbox of a running `selfeval up` with its defaults (OCR split into
   processes sharing the cores; warm services): seconds from the drop to the last record on
   `selfeval.records.>`. Overhead = 2 / 1 - 1.
3. The same with the OCR configured exactly as in 1 (one process, one thread per core), to show what
   the orchestration itself costs when it competes with a single OCR process for the cores.
4. OCR throughput (pages per second) of the OCR service with two processes of one thread each against
   one process of one thread: the OCR processes and the embedded NATS server alone, the scans queued
   at once, the clock stopped when the last OCR stage is done. The scans are queued largest first, so
   the figure shows throughput and not how long the last scan kept one process busy alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nats

from scangen import scan_forms, write_pdf
from scangen.fixtures import REAL_FORMS, load_fixture
from selfeval.bus.state import watch_states
from selfeval.bus.topology import ensure_topology
from selfeval.contract.messages import Stage, StageState
from selfeval.embedded import EmbeddedNats, free_port
from selfeval.in_process import process_bytes
from selfeval.intake import submit
from selfeval.settings import Settings
from services.ocr import InputRejected, OcrEngine, OcrSettings
from tests.bus.support import ping
from tests.pipeline.records_stream import collect_records
from tests.pipeline.system import start_system


def make_scans(directory: Path, count: int) -> tuple[list[Path], int]:
    paths, pages = [], 0
    for index, fixture in enumerate((REAL_FORMS * 4)[:count]):
        scan = scan_forms(
            [load_fixture(fixture).form], quality="office", dpi=200, seed=100 + index, classic=True
        )
        pages += len(scan)
        paths.append(Path(write_pdf(scan, directory / f"{index:02d}-{fixture.stem}.pdf")))
    return paths, pages


def in_process_seconds(scans: list[Path], threads: int) -> float:
    engine = OcrEngine(OcrSettings(threads=threads))  # warmed up on construction
    started = time.perf_counter()
    for path in scans:
        process_bytes(engine, path.read_bytes(), path.name, 0.8, (InputRejected,))
    return time.perf_counter() - started


SERVICES = ("selfeval-ocr", "selfeval-parser", "selfeval-scorer")


def pipeline_seconds(scans: list[Path], home: Path, env: dict[str, str]) -> float:
    system = start_system(home, env)
    try:
        asyncio.run(_wait_for_services(system.nats_url, SERVICES))
        time.sleep(2)  # and the start-up work of the rest (Prefect, the watcher) settle
        started = time.perf_counter()
        for path in scans:
            shutil.copy(path, home / "inbox" / path.name)
        records = collect_records(system.nats_url, expected=len(scans), timeout=1800, linger=0)
        elapsed = time.perf_counter() - started
        assert len(records) == len(scans), f"{len(records)} records for {len(scans)} scans"
        return elapsed
    finally:
        system.stop()


async def _wait_for_services(nats_url: str, services: tuple[str, ...]) -> None:
    """Until each service answers: its models loaded and warm, so the clock measures work only."""
    nc = await nats.connect(nats_url)
    try:
        for service in services:
            while not await ping(nc, service):
                await asyncio.sleep(1)
    finally:
        await nc.close()


async def _time_ocr_stage(nats_url: str, scans: list[Path], processes: int) -> float:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    try:
        await ensure_topology(js)  # what `selfeval up` does: the workers only bind
        # Every engine loaded and warm.
        while len(await ping(nc, "selfeval-ocr")) < processes:
            await asyncio.sleep(1)
        started = time.perf_counter()
        for path in scans:
            await submit(js, path.read_bytes(), path.name)
        done: set[str] = set()
        async with contextlib.aclosing(watch_states(js)) as states:
            async for state in states:
                if state.stages[Stage.ocr] is StageState.done:
                    done.add(state.submission_id)
                if len(done) == len(scans):
                    return time.perf_counter() - started
        raise RuntimeError("the state watch ended early")
    finally:
        await nc.close()


def ocr_service_seconds(scans: list[Path], home: Path, processes: int, threads: int) -> float:
    """Seconds for `processes` OCR service processes to read every scan, queued at once."""
    env = {**os.environ, "SELFEVAL_HOME": str(home), "SELFEVAL_OCR_THREADS": str(threads)}
    with EmbeddedNats(store_dir=home / "nats", port=free_port()) as server:
        env["NATS_URL"] = server.url
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "selfeval", "serve", "ocr"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(processes)
        ]
        try:
            return asyncio.run(_time_ocr_stage(server.url, scans, processes))
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--forms", type=int, default=16, help="how many scans (one form each)")
    parser.add_argument("--skip-scaling", action="store_true", help="skip part 4")
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    settings = Settings()
    threads = settings.ocr_threads_per_process()
    processes = settings.ocr_processes
    root = Path(tempfile.mkdtemp(prefix="selfeval-bench-"))
    scans, pages = make_scans(root, args.forms)
    print(f"{len(scans)} scans, {pages} pages (office quality, 200 dpi)")

    alone = in_process_seconds(scans, threads)
    print(f"1. in one process (1 x {threads} OCR)  : {alone:7.1f} s  ({pages / alone:.2f} pages/s)")
    piped = pipeline_seconds(scans, root / "pipeline", {})
    layout = f"{processes} x {settings.ocr_threads_per_process(processes)}"
    print(f"2. selfeval up, defaults ({layout} OCR) : {piped:7.1f} s  ({pages / piped:.2f} pages/s)")
    print(f"   overhead                         : {piped / alone - 1:+7.1%}  (goal ≤ +10 %)")
    same = {"SELFEVAL_OCR_PROCESSES": "1", "SELFEVAL_OCR_THREADS": str(threads)}
    like = pipeline_seconds(scans, root / "same-ocr", same)
    print(f"3. selfeval up, OCR as in 1 (1 x {threads})  : {like:7.1f} s  ({pages / like:.2f} pages/s)")
    print(f"   overhead                         : {like / alone - 1:+7.1%}")

    if not args.skip_scaling:
        largest_first = sorted(scans, key=lambda path: -path.stat().st_size)
        one = ocr_service_seconds(largest_first, root / "one", processes=1, threads=1)
        two = ocr_service_seconds(largest_first, root / "two", processes=2, threads=1)
        print(f"4. 1 OCR process  : {pages / one:.2f} pages/s  ({one:.1f} s)")
        print(f"   2 OCR processes: {pages / two:.2f} pages/s  ({two:.1f} s)")
        print(f"   scaling        : {one / two:.2f}x  (goal ≥ 1.7x on 2 cores)")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
