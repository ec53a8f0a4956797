"""Helpers for the bus tests: real tables without OCR, waiting for records, worker subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from scangen import scan_forms
from selfeval.bus.connection import connect
from selfeval.bus.handoff import MSG_ID, StageHandler
from selfeval.bus.stage_worker import StageWorker
from selfeval.bus.state import update_state
from selfeval.bus.topology import ensure_topology
from selfeval.contract.messages import (
    DEAD_LETTER_STREAM,
    RECORDS_STREAM,
    SCANS_BUCKET,
    ParseRequest,
    Stage,
    SubmissionState,
    dead_letter_subject,
    tables_object,
)
from selfeval.contract.ocr import PageTables
from selfeval.intake import rejection_handoff
from selfeval.outbox import LocalOutbox
from selfeval.parts import parser as parser_part
from selfeval.parts import scorer as scorer_part
from selfeval.settings import Settings
from tests.conftest import REAL_FORMS, load_fixture
from tests.parser.truth_tables import page_tables

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


@lru_cache
def real_tables(index: int = 0) -> PageTables:
    """A real form as perfect OCR output (rendered, not read), so no OCR model is needed."""
    form = load_fixture(REAL_FORMS[index]).form
    return page_tables(scan_forms([form], quality="clean", dpi=150, seed=1))


def run(coro: Awaitable[T], timeout: float = 60) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


async def open_bus(url: str, name: str = "test") -> tuple[Client, JetStreamContext]:
    nc = await connect(url, name, initial_timeout=5)
    js = nc.jetstream()
    await ensure_topology(js)
    return nc, js


async def known_submission(js: JetStreamContext, submission_id: str, source: str = "scan.pdf") -> None:
    """The state `submit` would have written: workers take work only for submissions they know."""
    await update_state(
        js,
        submission_id,
        lambda _: None,
        default=lambda: SubmissionState(submission_id=submission_id, source=source),
    )


async def stage_parse_request(
    js: JetStreamContext, submission_id: str, source: str = "scan.pdf"
) -> ParseRequest:
    """What the OCR service leaves behind: a known submission, its tables in the Object Store, and a
    ParseRequest to publish."""
    await known_submission(js, submission_id, source)
    tables = real_tables().model_copy(update={"sha256": submission_id, "source": source})
    scans = await js.object_store(SCANS_BUCKET)
    await scans.put(tables_object(submission_id), tables.model_dump_json().encode())
    return ParseRequest(submission_id=submission_id, source=source)


async def ping(nc: Client, service: str) -> list[dict[str, object]]:
    """Every instance of `service` that answers `$SRV.PING` within half a second."""
    inbox = nc.new_inbox()
    answers: list[dict[str, object]] = []
    sub = await nc.subscribe(inbox)
    await nc.publish(f"$SRV.PING.{service}", b"", reply=inbox)
    try:
        while True:
            answer = await sub.next_msg(timeout=0.5)
            if answer.data:  # an empty message is the server's "no responders"
                answers.append(json.loads(answer.data))
    except TimeoutError:
        return answers
    finally:
        await sub.unsubscribe()


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 20, every: float = 0.1) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(every)


async def records_on(js: JetStreamContext, subject: str = "selfeval.records.>") -> list[Msg]:
    """Every message in RECORDS_STREAM on `subject`, read with a throwaway consumer."""
    info = await js.stream_info(RECORDS_STREAM, subjects_filter=subject)
    count = sum((info.state.subjects or {}).values())
    if not count:
        return []
    sub = await js.pull_subscribe(subject, stream=RECORDS_STREAM)
    try:
        return await sub.fetch(count, timeout=2)
    finally:
        await sub.unsubscribe()


def record_ids(messages: list[Msg]) -> list[str]:
    return [(m.headers or {}).get(MSG_ID, "") for m in messages]


@contextmanager
def worker_process(part: str, nats_url: str, home: Path, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """`selfeval serve <part>` with NATS_URL and SELFEVAL_HOME; SIGTERM (then kill) when done."""
    environment = {**os.environ, "NATS_URL": nats_url, "SELFEVAL_HOME": str(home), **env}
    log_path = home / f"{part}.log"
    home.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "selfeval", "serve", part],
            cwd=ROOT,
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10) -> int:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


# --- stage workers in this process ---------------------------------------------------------------

FAST_WORKERS = {"max_deliver": 3, "backoff": (0.05,), "ack_wait": 2.0, "fetch_timeout": 0.2}


@asynccontextmanager
async def running_workers(
    js: JetStreamContext, handlers: Mapping[Stage, StageHandler]
) -> AsyncIterator[list[StageWorker]]:
    """A StageWorker per handler, fetching until the block ends."""
    quit_event = asyncio.Event()
    workers = [
        StageWorker(js, stage, handler, rejection_handoff, **FAST_WORKERS)  # type: ignore[arg-type]
        for stage, handler in handlers.items()
    ]
    for worker in workers:
        await worker.ensure_consumer()
    tasks = [asyncio.create_task(worker.run(quit_event)) for worker in workers]
    try:
        yield workers
    finally:
        quit_event.set()
        await asyncio.gather(*tasks)
        for worker in workers:
            await worker.stop()


def downstream(js: JetStreamContext, home: Path) -> dict[Stage, StageHandler]:
    """The real parse, score and publish handlers, writing the outbox under `home`."""
    return {
        **parser_part.make_handlers(js, Settings(home=home)),
        **scorer_part.make_handlers(js, LocalOutbox(home / "outbox")),
    }


async def dead_letters(js: JetStreamContext, stage: Stage) -> list[Msg] | None:
    """The messages dead-lettered by `stage` (None while there are none)."""
    info = await js.stream_info(DEAD_LETTER_STREAM)
    if not info.state.messages:
        return None
    sub = await js.pull_subscribe(dead_letter_subject(stage), stream=DEAD_LETTER_STREAM)
    try:
        return await sub.fetch(info.state.messages, timeout=2)
    except TimeoutError:
        return None
    finally:
        await sub.unsubscribe()
