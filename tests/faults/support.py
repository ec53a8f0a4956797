"""Helpers for the fault tests: scans to submit, the system's processes, and what came out.

Everything reads the real system: submission states from the KV bucket, records from the durable
records stream, processes as children of the `selfeval up` process.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import nats
import psutil
from nats.js.api import DeliverPolicy

from scangen import scan_forms, write_pdf
from selfeval.contract import Record
from selfeval.contract.messages import (
    DEAD_LETTER_STREAM,
    RECORDS_STREAM,
    STATE_BUCKET,
    Stage,
    StageState,
    SubmissionState,
)
from tests.conftest import REAL_FORMS, load_fixture

T = TypeVar("T")

FAST_ENV = {
    # Short enough that a dead worker's message comes back within seconds.
    "SELFEVAL_ACK_WAIT": "4",
    "SELFEVAL_MAX_DELIVER": "3",
    "SELFEVAL_RETRY_BACKOFF": "[0.5,1]",
    "SELFEVAL_OCR_THREADS": "2",
    "SELFEVAL_OCR_PROCESSES": "1",  # the faults below kill "the" OCR process
    # Files land whole here; the soak's junk (of no known type) need not wait a minute to be read.
    "SELFEVAL_INCOMPLETE_SETTLE_SECONDS": "5",
}
ONE_PAGE_FORMS = ("form_02", "form_03")
PART_MODULES = {
    "ocr": "selfeval serve ocr",
    "parser": "selfeval serve parser",
    "scorer": "selfeval serve scorer",
    "watcher": "selfeval serve watcher",
    "api": "selfeval api",
    "prefect": "prefect server start",
}


# --- scans ---------------------------------------------------------------------------------------


@lru_cache
def _one_page_form(index: int) -> object:
    name = ONE_PAGE_FORMS[index % len(ONE_PAGE_FORMS)]
    return load_fixture(next(p for p in REAL_FORMS if p.stem == name)).form


def scan_bytes(seed: int, workdir: Path) -> bytes:
    """A one-page office-quality scan; every seed gives different bytes, so a different submission."""
    pages = scan_forms([_one_page_form(seed)], quality="office", dpi=150, seed=seed, classic=True)  # type: ignore[list-item]
    return Path(write_pdf(pages, workdir / f"scan-{seed}.pdf")).read_bytes()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def drop(inbox: Path, files: dict[str, bytes]) -> list[str]:
    """Put files into the watched folder the way an upload tool does (write aside, then rename)."""
    inbox.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        partial = inbox / f"{name}.part"
        partial.write_bytes(data)
        partial.rename(inbox / name)
    return [sha256(data) for data in files.values()]


# --- processes -----------------------------------------------------------------------------------


def part_processes(up_pid: int, part: str) -> list[psutil.Process]:
    """The direct children of `selfeval up` that run `part` (see PART_MODULES)."""
    needle = PART_MODULES[part]
    found = []
    for child in psutil.Process(up_pid).children():
        try:
            if needle in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def nats_server_process(up_pid: int) -> psutil.Process:
    (server,) = [p for p in psutil.Process(up_pid).children() if p.name() == "nats-server"]
    return server


def kill_9(process: psutil.Process) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)


def wait_for(check: Callable[[], T | None], timeout: float, what: str, every: float = 0.3) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise TimeoutError(f"{what} not seen within {timeout:.0f} s")


def restarted_part(up_pid: int, part: str, old_pid: int, timeout: float = 60) -> psutil.Process:
    """The new process of `part` once `selfeval up` has started it again."""

    def fresh() -> psutil.Process | None:
        return next((p for p in part_processes(up_pid, part) if p.pid != old_pid), None)

    return wait_for(fresh, timeout, f"{part} restarted by selfeval up")


# --- what the bus holds --------------------------------------------------------------------------


def run(coro: Awaitable[T], timeout: float = 120) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


async def _states(nats_url: str, ids: Iterable[str]) -> dict[str, SubmissionState]:
    nc = await nats.connect(nats_url.split(","), connect_timeout=2, max_reconnect_attempts=1)
    try:
        kv = await nc.jetstream().key_value(STATE_BUCKET)
        found = {}
        for submission_id in ids:
            try:
                entry = await kv.get(submission_id)
            except nats.js.errors.KeyNotFoundError:
                continue
            found[submission_id] = SubmissionState.model_validate_json(entry.value or b"{}")
        return found
    finally:
        await nc.close()


def states(nats_url: str, ids: Iterable[str]) -> dict[str, SubmissionState]:
    """The KV state of each submission that has one; {} while NATS is unreachable."""
    try:
        return run(_states(nats_url, list(ids)), timeout=20)
    except Exception:  # NATS restarting, a cluster electing a leader: ask again later
        return {}


def any_in_stage(nats_url: str, ids: Iterable[str], stage: Stage, state: StageState) -> bool:
    return any(s.stages[stage] is state for s in states(nats_url, ids).values())


def wait_all_published(nats_url: str, ids: list[str], timeout: float = 240) -> dict[str, SubmissionState]:
    """Until every submission's publish stage is done (KV); fails naming the stragglers."""
    deadline = time.monotonic() + timeout
    found: dict[str, SubmissionState] = {}
    while time.monotonic() < deadline:
        found = states(nats_url, ids)
        if len(found) == len(ids) and all(s.stages[Stage.publish] is StageState.done for s in found.values()):
            return found
        time.sleep(1)
    stuck = {i[:12]: (found[i].stages if i in found else "no state") for i in ids}
    raise AssertionError(f"not all published within {timeout:.0f} s: {stuck}")


async def _stream_messages(nats_url: str, stream: str, subject: str) -> list[nats.aio.msg.Msg]:
    nc = await nats.connect(nats_url.split(","), connect_timeout=2)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        last = info.state.last_seq
        messages = []
        if info.state.messages == 0:
            return messages
        subscription = await js.subscribe(subject, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
        while True:
            try:
                message = await subscription.next_msg(timeout=5)
            except TimeoutError:
                return messages
            messages.append(message)
            if message.metadata.sequence.stream >= last:
                return messages
    finally:
        await nc.close()


def all_records(nats_url: str) -> list[Record]:
    """Every record on the records stream so far (each message, duplicates included)."""
    messages = run(_stream_messages(nats_url, RECORDS_STREAM, "selfeval.records.>"))
    return [Record.model_validate_json(m.data) for m in messages]


def dead_letters(nats_url: str) -> list[tuple[str, dict[str, str]]]:
    """(payload, headers) of each dead-lettered message."""
    messages = run(_stream_messages(nats_url, DEAD_LETTER_STREAM, "selfeval.dead.>"))
    return [(m.data.decode(), dict(m.headers or {})) for m in messages]


@dataclass
class Outcome:
    """What came out for a set of submissions: records per submission, and duplicates among them."""

    per_submission: Counter[str]
    duplicates: int
    records: list[Record]

    @property
    def count(self) -> int:
        return sum(self.per_submission.values())


def outcome(nats_url: str, ids: Iterable[str]) -> Outcome:
    wanted = set(ids)
    records = [r for r in all_records(nats_url) if r.submission.sha256 in wanted]
    ids_seen = Counter(r.record_id for r in records)
    per_submission = Counter(r.submission.sha256 for r in records)
    return Outcome(per_submission, sum(n - 1 for n in ids_seen.values()), records)


def assert_exactly_once(nats_url: str, ids: list[str], forms_each: int = 1) -> Outcome:
    """Every submission published (KV) with exactly `forms_each` records and no duplicate message."""
    wait_all_published(nats_url, ids)
    result = outcome(nats_url, ids)
    assert result.duplicates == 0, result.records
    assert result.per_submission == dict.fromkeys(ids, forms_each), result.per_submission
    return result


POISON_ENV = "SELFEVAL_TEST_POISON_SHA256"
"""Read by the test hook in tests/faults/poison/: the OCR process SIGKILLs itself on this submission."""
POISON_HOOK = Path(__file__).resolve().parent / "poison"
"""Put on PYTHONPATH of `selfeval up`: its sitecustomize.py plants the poison in the OCR part."""
