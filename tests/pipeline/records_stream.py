"""Reading the downstream records stream in tests, as a consumer that connects late would."""

from __future__ import annotations

import asyncio
import time

import nats
from nats.js.api import DeliverPolicy

from selfeval.contract import Record


async def _collect(nats_url: str, subject: str, expected: int, timeout: float, linger: float) -> list[Record]:
    nc = await nats.connect(nats_url)
    records: list[Record] = []
    try:
        subscription = await nc.jetstream().subscribe(
            subject, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
        )
        deadline = time.monotonic() + timeout
        while len(records) < expected and time.monotonic() < deadline:
            try:
                message = await subscription.next_msg(timeout=max(0.1, min(5, deadline - time.monotonic())))
            except TimeoutError:
                continue
            records.append(Record.model_validate_json(message.data))
        # Keep listening a little: a duplicate would arrive now.
        linger_until = time.monotonic() + linger
        while time.monotonic() < linger_until:
            try:
                message = await subscription.next_msg(timeout=max(0.1, linger_until - time.monotonic()))
            except TimeoutError:
                break
            records.append(Record.model_validate_json(message.data))
    finally:
        await nc.drain()
    return records


def collect_records(
    nats_url: str,
    expected: int,
    timeout: float,
    subject: str = "selfeval.records.>",
    linger: float = 3.0,
) -> list[Record]:
    """All records on the subject from the stream's start: at least `expected` unless time ran out
    (credentials, where the server requires them, in the URL: `RunningSystem.nats_url`)."""
    return asyncio.run(_collect(nats_url, subject, expected, timeout, linger))
