"""The parser and scorer services as real processes (`selfeval serve <part>`)."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from selfeval.bus.handoff import Handoff, publish_handoff
from selfeval.bus.state import get_state
from selfeval.contract.messages import Stage, StageState, SubmissionState
from selfeval.contract.record import Status
from selfeval.embedded import EmbeddedNats, free_port
from tests.bus.support import eventually, open_bus, ping, records_on, run, stage_parse_request, worker_process

pytestmark = pytest.mark.integration

FAST_ENV = {"SELFEVAL_ACK_WAIT": "2", "SELFEVAL_MAX_DELIVER": "3", "SELFEVAL_RETRY_BACKOFF": "[0.1]"}


async def published(js: JetStreamContext, submission_id: str) -> SubmissionState | None:
    state = await get_state(js, submission_id)
    return state if state and state.stages[Stage.publish] is StageState.done else None


def test_worker_processes_hand_on_survive_restarts_and_answer_ping(
    nats_server: EmbeddedNats, tmp_path: Path
) -> None:
    home = tmp_path / "home"

    async def scenario() -> None:
        nc, js = await open_bus(nats_server.url)
        first = await stage_parse_request(js, "d" * 64, "inbox/first.pdf")
        second = await stage_parse_request(js, "e" * 64, "inbox/second.pdf")
        with worker_process("parser", nats_server.url, home, **FAST_ENV) as parser:
            await eventually(lambda: ping(nc, "selfeval-parser"), timeout=30)
            await publish_handoff(js, Handoff.to(Stage.parse, first))
            # No scorer yet: the parsed submission waits in the work queue.
            await eventually(lambda: _stage_done(js, first.submission_id, Stage.parse))

            with worker_process("scorer", nats_server.url, home, **FAST_ENV) as scorer:
                state = await eventually(lambda: published(js, first.submission_id), timeout=30)
                assert state.statuses == [Status.verified]

                parser.send_signal(signal.SIGKILL)  # a crash, then a fresh parser process
                parser.wait()
                with worker_process("parser", nats_server.url, home, **FAST_ENV) as again:
                    await publish_handoff(js, Handoff.to(Stage.parse, second))
                    # A late replay of the first submission under another msg-id must not add a record.
                    replay = Handoff(Handoff.to(Stage.parse, first).subject, first, "replayed")
                    await publish_handoff(js, replay)
                    await eventually(lambda: published(js, second.submission_id), timeout=30)
                    await asyncio.sleep(1)

                    answers = await ping(nc, "selfeval-scorer")
                    assert [a["name"] for a in answers] == ["selfeval-scorer"]
                    status = json.loads((await nc.request("selfeval-scorer.status", b"", timeout=2)).data)
                    assert status["stages"]["publish"]["processed"] == 2
                    again.send_signal(signal.SIGTERM)
                    assert again.wait(15) == 0  # clean drain on SIGTERM
                scorer.send_signal(signal.SIGTERM)
                assert scorer.wait(15) == 0

        records = await records_on(js)
        assert len(records) == 2
        files = sorted(
            p.relative_to(home / "outbox").parent.as_posix() for p in (home / "outbox").rglob("*.json")
        )
        assert files == ["verified", "verified"]
        await nc.close()

    run(scenario(), timeout=110)


async def _stage_done(js: JetStreamContext, submission_id: str, stage: Stage) -> bool:
    state = await get_state(js, submission_id)
    return bool(state and state.stages[stage] is StageState.done)


@pytest.mark.parametrize("module", ["parser", "watcher"])
def test_a_part_waiting_for_an_unreachable_nats_still_stops_on_sigterm(module: str, tmp_path: Path) -> None:
    nowhere = f"nats://127.0.0.1:{free_port()}"  # nothing listens there
    with worker_process(module, nowhere, tmp_path, PREFECT_API_URL="http://127.0.0.1:9/api") as process:
        log = tmp_path / f"{module}.log"
        deadline = time.monotonic() + 60
        while "nats error" not in log.read_text(errors="replace"):  # it is retrying the connection
            assert process.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
