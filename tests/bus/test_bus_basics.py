"""Topology, submissions and their state, and connecting, against a real nats-server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from selfeval.bus.connection import BusAuthError, connect
from selfeval.bus.state import get_state, update_state, watch_states
from selfeval.bus.topology import ensure_topology
from selfeval.contract.messages import (
    DEAD_LETTER_STREAM,
    RECORDS_STREAM,
    SCANS_BUCKET,
    WORK_STREAM,
    Stage,
    StageState,
    SubmissionState,
    stage_subject,
)
from selfeval.embedded import EmbeddedNats
from selfeval.intake import submit
from tests.bus.support import open_bus, run

pytestmark = pytest.mark.integration


def test_topology_is_idempotent_across_processes_and_calls(nats_server: EmbeddedNats) -> None:
    async def scenario() -> None:
        first = await connect(nats_server.url, "a", initial_timeout=5)
        second = await connect(nats_server.url, "b", initial_timeout=5)
        try:
            # Two "processes" at once, then again: all succeed, nothing is duplicated.
            await asyncio.gather(ensure_topology(first.jetstream()), ensure_topology(second.jetstream()))
            await ensure_topology(first.jetstream())
            js = first.jetstream()
            for name in (WORK_STREAM, RECORDS_STREAM, DEAD_LETTER_STREAM):
                assert (await js.stream_info(name)).config.name == name
            work = await js.stream_info(WORK_STREAM)
            assert work.config.retention == "workqueue"
            assert work.config.duplicate_window == 120
            await js.object_store(SCANS_BUCKET)
            streams = await js.streams_info()
            assert len(streams) == 7  # work, records, dead letters, exhausted advisories, 2 KV, objects
        finally:
            await first.close()
            await second.close()

    run(scenario())


def test_same_bytes_under_another_name_are_one_submission(nats_server: EmbeddedNats) -> None:
    async def scenario() -> None:
        nc, js = await open_bus(nats_server.url)
        try:
            state, new = await submit(js, b"%PDF-1.4 scan", "inbox/a.pdf")
            again, new_again = await submit(js, b"%PDF-1.4 scan", "inbox/renamed.pdf")
            assert new and not new_again
            assert again.submission_id == state.submission_id and again.source == "inbox/a.pdf"
            # Racing submitters of other bytes: exactly one wins the KV create.
            results = await asyncio.gather(*(submit(js, b"other", f"x{i}.pdf") for i in range(5)))
            assert sum(is_new for _, is_new in results) == 1
            info = await js.stream_info(WORK_STREAM, subjects_filter=stage_subject(Stage.ocr))
            assert info.state.messages == 2  # one OcrRequest per distinct file
            scans = await js.object_store(SCANS_BUCKET)
            assert (await scans.get(state.submission_id)).data == b"%PDF-1.4 scan"
        finally:
            await nc.close()

    run(scenario())


def test_state_updates_do_not_lose_concurrent_changes(nats_server: EmbeddedNats) -> None:
    async def scenario() -> None:
        nc, js = await open_bus(nats_server.url)
        other = await connect(nats_server.url, "other", initial_timeout=5)
        try:
            state, _ = await submit(js, b"state test", "s.pdf")

            def adder(n: int):
                return lambda s: s.record_ids.append(f"r{n}")

            clients = [js, other.jetstream()]
            await asyncio.gather(
                *(update_state(clients[n % 2], state.submission_id, adder(n)) for n in range(20))
            )
            await update_state(
                js, state.submission_id, lambda s: s.stages.update({Stage.ocr: StageState.done})
            )
            final = await get_state(js, state.submission_id)
            assert final is not None
            assert sorted(final.record_ids) == sorted(f"r{n}" for n in range(20))
            assert final.stages[Stage.ocr] is StageState.done
            assert await update_state(js, "0" * 64, lambda s: None) is None  # unknown id: nothing written
            created = await update_state(
                js,
                "1" * 64,
                lambda s: None,
                default=lambda: SubmissionState(submission_id="1" * 64, source="x"),
            )
            assert created is not None and await get_state(js, "1" * 64) == created
        finally:
            await other.close()
            await nc.close()

    run(scenario())


def test_wrong_credentials_fail_at_once_with_one_clear_message(tmp_path: Path) -> None:
    with EmbeddedNats(tmp_path / "nats", extra_args=["--user", "selfeval", "--pass", "right"]) as server:

        async def scenario() -> None:
            with pytest.raises(BusAuthError, match="refused the credentials"):
                await connect(server.url, "t", user="selfeval", password="wrong")
            nc = await connect(server.url, "t", user="selfeval", password="right", initial_timeout=5)
            await nc.close()

        run(scenario(), timeout=15)


def test_embedded_server_restarts_on_the_same_dir_and_port(nats_server: EmbeddedNats) -> None:
    async def scenario() -> None:
        nc, js = await open_bus(nats_server.url)
        state, _ = await submit(js, b"survives", "r.pdf")
        await nc.close()
        port = nats_server.port
        nats_server.restart()
        assert nats_server.port == port
        nc, js = await open_bus(nats_server.url)
        try:
            assert await get_state(js, state.submission_id) == state
        finally:
            await nc.close()

    run(scenario())


def test_watch_states_gives_current_states_then_changes(nats_server: EmbeddedNats) -> None:
    async def scenario() -> None:
        nc, js = await open_bus(nats_server.url)
        try:
            before, _ = await submit(js, b"watched", "w.pdf")
            seen: list[SubmissionState] = []

            async def watch() -> None:
                async for state in watch_states(js):
                    seen.append(state)
                    if state.stages[Stage.ocr] is StageState.done:
                        return

            watcher = asyncio.create_task(watch())
            await asyncio.sleep(0.2)
            await update_state(
                js, before.submission_id, lambda s: s.stages.update({Stage.ocr: StageState.done})
            )
            await asyncio.wait_for(watcher, 5)
            assert [s.stages[Stage.ocr] for s in seen] == [StageState.waiting, StageState.done]
        finally:
            await nc.close()

    run(scenario())
