"""Stage workers with the real parser and scorer handlers, in-process, against a real nats-server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext

from selfeval.bus.handoff import Handoff, publish_handoff
from selfeval.bus.stage_worker import StageWorker
from selfeval.bus.state import get_state
from selfeval.contract.messages import SCANS_BUCKET, ParseRequest, Stage, StageState, page_image_object
from selfeval.contract.ocr import PageImage, PageTables, SubmissionRead
from selfeval.contract.record import Record, Status
from selfeval.embedded import EmbeddedNats
from selfeval.intake import submit
from selfeval.parts import ocr as ocr_part
from tests.bus.support import (
    FAST_WORKERS,
    dead_letters,
    downstream,
    eventually,
    known_submission,
    open_bus,
    real_tables,
    record_ids,
    records_on,
    run,
    running_workers,
    stage_parse_request,
)


def outbox_files(home: Path) -> list[Path]:
    return sorted((home / "outbox").rglob("*.json"))


def test_parse_request_published_twice_gives_one_verified_record(
    nats_server: EmbeddedNats, tmp_path: Path
) -> None:
    async def scenario() -> None:
        nc, js = await open_bus(nats_server.url)
        submission_id = "a" * 64
        request = await stage_parse_request(js, submission_id)
        async with running_workers(js, downstream(js, tmp_path)):
            await publish_handoff(js, Handoff.to(Stage.parse, request))
            await publish_handoff(js, Handoff.to(Stage.parse, request))  # same msg-id: dropped
            verified = await eventually(lambda: records_on(js, "selfeval.records.verified"))
            state = await eventually(lambda: _published(js, submission_id))
            await asyncio.sleep(0.5)  # a duplicate would have had time to come out
            assert len(await records_on(js)) == 1
        record = Record.model_validate_json(verified[0].data)
        assert record.status is Status.verified and record.submission.sha256 == submission_id
        assert record_ids(verified) == [record.record_id] == state.record_ids
        assert state.statuses == [Status.verified]
        assert all(state.stages[s] is StageState.done for s in (Stage.parse, Stage.score, Stage.publish))
        assert set(state.stage_seconds) == {Stage.parse, Stage.score, Stage.publish}
        files = outbox_files(tmp_path)
        assert [f.relative_to(tmp_path / "outbox").as_posix() for f in files] == [
            f"verified/{record.record_id}.json"
        ]
        assert json.loads(files[0].read_text())["record_id"] == record.record_id
        assert "parse" in record.provenance.timings and "score" in record.provenance.timings
        await nc.close()

    run(scenario())


def test_a_failing_stage_dead_letters_and_still_gives_one_rejected_record(
    nats_server: EmbeddedNats, tmp_path: Path
) -> None:
    calls = 0

    async def broken(request: ParseRequest) -> Sequence[Handoff]:
        nonlocal calls
        calls += 1
        raise RuntimeError("boom")

    async def scenario() -> None:
        nc, js = await open_bus(nats_server.url)
        submission_id = "b" * 64
        request = await stage_parse_request(js, submission_id)
        handlers = {**downstream(js, tmp_path), Stage.parse: broken}
        async with running_workers(js, handlers) as workers:
            await publish_handoff(js, Handoff.to(Stage.parse, request))
            rejected = await eventually(lambda: records_on(js, "selfeval.records.rejected"))
            dead = await eventually(lambda: dead_letters(js, Stage.parse))
            state = await eventually(lambda: _published(js, submission_id))
            await asyncio.sleep(0.5)
            assert len(await records_on(js)) == 1
            assert workers[0].stats()["failed"] == 1 and workers[0].stats()["retried"] == 2
        assert calls == FAST_WORKERS["max_deliver"]
        record = Record.model_validate_json(rejected[0].data)
        assert record.status is Status.rejected
        assert record.reason == "parse failed after 3 attempts: RuntimeError: boom"
        assert json.loads(dead[0].data)["submission_id"] == submission_id
        assert dead[0].headers and "boom" in dead[0].headers["Selfeval-Error"]
        assert state.stages[Stage.parse] is StageState.failed and state.finished
        assert state.errors[Stage.parse] == record.reason
        assert [f.parent.name for f in outbox_files(tmp_path)] == ["rejected"]
        await nc.close()

    run(scenario())


def test_work_held_by_a_dead_worker_is_redelivered_and_processed_once(
    nats_server: EmbeddedNats, tmp_path: Path
) -> None:
    async def hangs(request: ParseRequest) -> Sequence[Handoff]:
        await asyncio.Event().wait()  # never returns: the process "dies" holding the message
        return []

    async def scenario() -> None:
        submission_id = "c" * 64
        doomed_nc, doomed_js = await open_bus(nats_server.url, "doomed")
        request = await stage_parse_request(doomed_js, submission_id)
        doomed = StageWorker(doomed_js, Stage.parse, hangs, **FAST_WORKERS)  # type: ignore[arg-type]
        await doomed.ensure_consumer()
        await publish_handoff(doomed_js, Handoff.to(Stage.parse, request))
        quit_doomed = asyncio.Event()
        doomed_task = asyncio.create_task(doomed.run(quit_doomed))
        await eventually(lambda: _stage_is(doomed_js, submission_id, Stage.parse, StageState.running))
        doomed_task.cancel()  # killed mid-message: no ack, no nak
        await doomed_nc.close()

        nc, js = await open_bus(nats_server.url)
        async with running_workers(js, downstream(js, tmp_path)):
            state = await eventually(lambda: _published(js, submission_id), timeout=15)
            await asyncio.sleep(0.5)
            assert len(await records_on(js)) == 1
        assert state.statuses == [Status.verified]
        assert len(outbox_files(tmp_path)) == 1
        await nc.close()

    run(scenario())


PAGE_PNG = b"\x89PNG\r\n\x1a\n a page as the OCR read it"


class TruthReader:
    """Stands in for the OCR engine: returns the rendered truth, or refuses non-PDF input."""

    def read(self, data: bytes, source: str) -> PageTables:
        if not data.startswith(b"%PDF"):
            raise ValueError("not a PDF or image")
        return real_tables(1)

    def read_with_images(self, data: bytes, source: str) -> SubmissionRead:
        tables = self.read(data, source)
        return SubmissionRead(tables, [PageImage(page.number, PAGE_PNG) for page in tables.pages])


def test_submit_runs_ocr_parse_score_publish_and_bad_input_is_rejected_once(
    nats_server: EmbeddedNats, tmp_path: Path
) -> None:
    async def scenario() -> None:
        nc, js = await open_bus(nats_server.url)
        handlers = {**ocr_part.make_handlers(js, TruthReader(), (ValueError,)), **downstream(js, tmp_path)}
        async with running_workers(js, handlers) as workers:
            good, _ = await submit(js, b"%PDF-1.4 form 2", "inbox/good.pdf")
            bad, _ = await submit(js, b"GIF89a", "inbox/cat.gif")
            good_state = await eventually(lambda: _published(js, good.submission_id))
            bad_state = await eventually(lambda: _published(js, bad.submission_id))
            assert workers[0].stats()["retried"] == 0  # bad input is not retried
        assert good_state.statuses == [Status.verified]
        assert bad_state.statuses == [Status.rejected]
        rejected = Record.model_validate_json((await records_on(js, "selfeval.records.rejected"))[0].data)
        assert rejected.reason == "not a PDF or image" and rejected.submission.source == "inbox/cat.gif"
        assert len(await records_on(js)) == 2 and len(outbox_files(tmp_path)) == 2
        scans = await js.object_store(SCANS_BUCKET)
        kept = await scans.get(page_image_object(good.submission_id, 1))
        assert kept.data == PAGE_PNG  # the page the OCR read is kept with the submission
        await nc.close()

    run(scenario())


async def _published(js: JetStreamContext, submission_id: str):
    state = await get_state(js, submission_id)
    return state if state and state.stages[Stage.publish] is StageState.done else None


async def _stage_is(js: JetStreamContext, submission_id: str, stage: Stage, want: StageState) -> bool:
    state = await get_state(js, submission_id)
    return bool(state and state.stages[stage] is want)


def test_workers_carry_on_after_the_server_restarts(nats_server: EmbeddedNats, tmp_path: Path) -> None:
    async def scenario() -> None:
        nc, js = await open_bus(nats_server.url)
        async with running_workers(js, downstream(js, tmp_path)):
            first = await stage_parse_request(js, "f" * 64)
            await publish_handoff(js, Handoff.to(Stage.parse, first))
            await eventually(lambda: _published(js, first.submission_id))
            nats_server.restart()  # same dir and port: streams, consumers and buckets survive
            await eventually(lambda: _answers(nc), timeout=15)
            second = await stage_parse_request(js, "0" * 64)
            await publish_handoff(js, Handoff.to(Stage.parse, second))
            await eventually(lambda: _published(js, second.submission_id), timeout=20)
        assert len(await records_on(js)) == 2
        await nc.close()

    run(scenario())


async def _answers(nc: Client) -> bool:
    # `is_connected` still says True until the client notices the dropped socket; a request does not.
    try:
        await nc.jetstream(timeout=0.5).account_info()
    except (nats.errors.Error, TimeoutError):
        return False
    return True


def test_a_handler_slower_than_ack_wait_is_kept_alive_not_redelivered(nats_server: EmbeddedNats) -> None:
    calls = 0

    async def slow(request: ParseRequest) -> Sequence[Handoff]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(3)  # like OCR of a long scan; ack_wait is 1s
        return []

    async def scenario() -> None:
        nc, js = await open_bus(nats_server.url)
        worker = StageWorker(js, Stage.parse, slow, max_deliver=3, ack_wait=1.0, fetch_timeout=0.2)  # type: ignore[arg-type]
        second = StageWorker(js, Stage.parse, slow, max_deliver=3, ack_wait=1.0, fetch_timeout=0.2)  # type: ignore[arg-type]
        for w in (worker, second):
            await w.ensure_consumer()
        quit_event = asyncio.Event()
        tasks = [asyncio.create_task(w.run(quit_event)) for w in (worker, second)]
        request = ParseRequest(submission_id="7" * 64, source="slow.pdf")
        await known_submission(js, request.submission_id, request.source)
        await publish_handoff(js, Handoff.to(Stage.parse, request))
        await eventually(
            lambda: _stage_is(js, request.submission_id, Stage.parse, StageState.done), timeout=10
        )
        quit_event.set()
        await asyncio.gather(*tasks)
        for w in (worker, second):
            await w.stop()
        assert calls == 1  # the idle second worker never got it redelivered
        await nc.close()

    run(scenario())
