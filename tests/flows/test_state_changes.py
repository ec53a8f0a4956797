"""Flow runs are woken by their submission's state writes (a real nats-server), not by polling."""

from __future__ import annotations

import asyncio

from flows.state_changes import RECHECK_SECONDS, UNWATCHED_RECHECK_SECONDS, StateChanges
from selfeval.bus.state import update_state
from selfeval.contract.messages import Stage, StageState, SubmissionState
from selfeval.embedded import EmbeddedNats
from selfeval.intake import submit
from tests.bus.support import open_bus, run


def test_a_state_write_wakes_only_the_followers_of_that_submission(nats_server: EmbeddedNats) -> None:
    async def scenario() -> None:
        nc, js = await open_bus(nats_server.url)
        changes = StateChanges(js)
        try:
            await changes.start()
            assert changes.recheck_seconds == RECHECK_SECONDS  # the feed runs: followers sleep long
            ours, _ = await submit(js, b"%PDF-1.7 ours", "ours.pdf")
            theirs, _ = await submit(js, b"%PDF-1.7 theirs", "theirs.pdf")

            def ocr_running(state: SubmissionState) -> None:
                state.stages[Stage.ocr] = StageState.running

            async with changes.following(ours.submission_id) as written:
                await update_state(js, theirs.submission_id, ocr_running)
                await asyncio.sleep(0.5)
                assert not written.is_set()  # another submission's write does not wake us
                await update_state(js, ours.submission_id, ocr_running)
                await asyncio.wait_for(written.wait(), 5)  # ours does, at once
        finally:
            await changes.stop()
            await nc.close()

    run(scenario())


def test_followers_poll_when_the_feed_cannot_start(nats_server: EmbeddedNats) -> None:
    async def scenario() -> None:
        nc, js = await open_bus(nats_server.url)
        await js.delete_key_value("selfeval-submissions")  # nothing to subscribe to
        changes = StateChanges(js)
        try:
            await changes.start()
            assert changes.recheck_seconds == UNWATCHED_RECHECK_SECONDS
        finally:
            await changes.stop()
            await nc.close()

    run(scenario())
