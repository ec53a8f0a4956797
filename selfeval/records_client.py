"""Reading what the pipeline produces, as a downstream consumer or a waiting user would."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from nats.js.api import DeliverPolicy

from selfeval.bootstrap import connect_nats, make_outbox
from selfeval.bus.state import get_state
from selfeval.contract import Record
from selfeval.contract.messages import RECORDS_SUBJECTS, SubmissionState, channel_subject
from selfeval.permissions import Role
from selfeval.settings import Settings


async def tail_records(
    settings: Settings, status: str, show: Callable[[Record], None], count: int = 0, idle: float = 0
) -> int:
    """Show records from `selfeval.records.<status>` (all statuses for "all"); returns how many."""
    nc = await connect_nats(settings, "selfeval-tail", Role.client, initial_timeout=10)
    seen = 0
    try:
        subject = RECORDS_SUBJECTS if status == "all" else channel_subject(status)
        subscription = await nc.jetstream().subscribe(
            subject, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
        )
        while not count or seen < count:
            try:
                message = await subscription.next_msg(timeout=idle or 3600 * 24)
            except TimeoutError:
                if idle:
                    break
                continue
            show(Record.model_validate_json(message.data))
            seen += 1
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()
    finally:
        with contextlib.suppress(Exception):
            await nc.drain()
    return seen


async def wait_for_records(
    settings: Settings,
    submission_ids: list[str],
    timeout: float,
    on_finished: Callable[[SubmissionState, list[Record]], None],
) -> list[Record]:
    """Wait until each submission has been published; report each as it finishes; all their records."""
    nc = await connect_nats(settings, "selfeval-submit", Role.client, initial_timeout=10)
    outbox = make_outbox(settings)
    pending = list(dict.fromkeys(submission_ids))
    records: list[Record] = []
    try:
        js = nc.jetstream()
        async with asyncio.timeout(timeout):
            while pending:
                for submission_id in list(pending):
                    state = await get_state(js, submission_id)
                    if state is None or not state.finished:
                        continue
                    found = [
                        record
                        for record_id, status in zip(state.record_ids, state.statuses, strict=False)
                        if (record := await asyncio.to_thread(outbox.read_record, record_id, status))
                        is not None
                    ]
                    records += found
                    on_finished(state, found)
                    pending.remove(submission_id)
                await asyncio.sleep(0.5)
    finally:
        with contextlib.suppress(Exception):
            await nc.drain()
    return records
