"""Soak: N submissions (good scans, duplicates, bad files) through `selfeval up`; in must equal out.

    python -m benchmarks.soak [-n 200] [--seed 1] [--keep DIR]

Starts the whole system (`selfeval up` on free ports, a local inbox), drops the files in batches as a
scanner would, waits until every distinct submission is published, and prints: submissions in,
records out, duplicates, submissions without exactly one record, the wall time, and the resident
memory (RSS) of each part at the start and at the end. Exit status 1 when in ≠ out or anything was
duplicated. `tests/faults/test_faults.py` runs a short one against its shared system.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.faults.support import (
    FAST_ENV,
    drop,
    outcome,
    part_processes,
    scan_bytes,
    sha256,
    wait_all_published,
)
from tests.pipeline.system import start_system

PARTS = ("ocr", "parser", "scorer", "watcher", "api", "prefect")
BATCH = 10


@dataclass
class SoakFiles:
    """The files to drop, and the distinct submissions among them (duplicates share their bytes)."""

    files: dict[str, bytes] = field(default_factory=dict)
    good: int = 0
    duplicates: int = 0
    bad: int = 0

    @property
    def submissions(self) -> list[str]:
        return sorted({sha256(data) for data in self.files.values()})


def soak_files(n: int, seed: int, workdir: Path) -> SoakFiles:
    """About 70 % good one-page scans, 15 % duplicates of earlier ones under new names, 15 % bad files."""
    rng = random.Random(seed)
    made = SoakFiles()
    goods: list[bytes] = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.15 and goods:
            made.files[f"soak-{seed}-{i:04d}-copy.pdf"] = rng.choice(goods)
            made.duplicates += 1
        elif roll < 0.30:
            # Not a scan at all: random bytes, or text pretending to be a PDF.
            junk = rng.randbytes(rng.randint(10, 5000)) if rng.random() < 0.5 else f"not a form {i}".encode()
            made.files[f"soak-{seed}-{i:04d}-bad.pdf"] = junk
            made.bad += 1
        else:
            goods.append(scan_bytes(seed * 100_000 + i, workdir))
            made.files[f"soak-{seed}-{i:04d}.pdf"] = goods[-1]
            made.good += 1
    return made


def rss_mb(up_pid: int) -> dict[str, float]:
    """Resident memory of each part (MB), summed over its processes and their children."""
    sizes = {}
    for part in PARTS:
        total = 0
        for process in part_processes(up_pid, part):
            for member in [process, *process.children(recursive=True)]:
                try:
                    total += member.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
        sizes[part] = round(total / 2**20, 1)
    return sizes


@dataclass
class SoakResult:
    files: int
    submissions: int
    good: int
    duplicates: int
    bad: int
    records: int
    duplicate_records: int
    wrong_counts: dict[str, int]
    seconds: float
    rss_start: dict[str, float]
    rss_end: dict[str, float]

    @property
    def ok(self) -> bool:
        return self.records == self.submissions and self.duplicate_records == 0 and not self.wrong_counts

    def report(self) -> str:
        lines = [
            f"files dropped      {self.files}",
            f"  of which         {self.good} good, {self.duplicates} duplicates, {self.bad} bad",
            f"submissions in     {self.submissions}",
            f"records out        {self.records}",
            f"duplicate records  {self.duplicate_records}",
            f"not exactly one    {len(self.wrong_counts)}",
            f"wall time          {self.seconds:.0f} s",
            f"per submission     {self.seconds / max(1, self.submissions):.1f} s",
            "RSS MB (start → end):",
        ]
        lines += [f"  {part:<8} {self.rss_start[part]:>7} → {self.rss_end[part]:>7}" for part in PARTS]
        return "\n".join(lines)


def run_soak(nats_url: str, inbox: Path, up_pid: int, n: int, seed: int, workdir: Path) -> SoakResult:
    """Drop the files in batches, wait for every submission to be published, count what came out."""
    rss_start = rss_mb(up_pid)
    started = time.monotonic()
    made = soak_files(n, seed, workdir)
    names = list(made.files)
    for first in range(0, len(names), BATCH):
        drop(inbox, {name: made.files[name] for name in names[first : first + BATCH]})
    submissions = made.submissions
    wait_all_published(nats_url, submissions, timeout=60 + 20 * len(submissions))
    seconds = time.monotonic() - started
    result = outcome(nats_url, submissions)
    wrong = {sid: result.per_submission.get(sid, 0) for sid in submissions if result.per_submission[sid] != 1}
    return SoakResult(
        files=len(names),
        submissions=len(submissions),
        good=made.good,
        duplicates=made.duplicates,
        bad=made.bad,
        records=result.count,
        duplicate_records=result.duplicates,
        wrong_counts=wrong,
        seconds=seconds,
        rss_start=rss_start,
        rss_end=rss_mb(up_pid),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=200, help="files to drop (default 200)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep the system's home here (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="selfeval-soak-") as tmp:
        root = args.keep or Path(tmp)
        system = start_system(root / "home", FAST_ENV)
        try:
            print(f"selfeval up ready (home {system.home}); dropping {args.n} files", flush=True)
            result = run_soak(
                system.nats_url, system.home / "inbox", system.process.pid, args.n, args.seed, root
            )
        finally:
            system.stop()
    print(result.report())
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
