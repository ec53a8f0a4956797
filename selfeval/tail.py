"""Reading the durable records stream from its start, as a downstream consumer would."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from nats.js.api import DeliverPolicy

from selfeval.bootstrap import connect_nats
from selfeval.contract import Record
from selfeval.settings import Settings


async def tail_records(
    settings: Settings, status: str, show: Callable[[Record], None], count: int = 0, idle: float = 0
) -> int:
    """Show records from `selfeval.records.<status>` (all statuses for "all"); returns how many."""
    nc = await connect_nats(settings, "selfeval-tail", initial_timeout=10)
    seen = 0
    try:
        subject = "selfeval.records.>" if status == "all" else f"selfeval.records.{status}"
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
