"""Submission state changes pushed to the flow runs that follow them, instead of each run polling.

Every flow run waits on its submission's stages. Polling the KV bucket for each would cost a NATS
request per run every half second: hundreds a second with a deep queue, and on a small machine every
wake-up is taken from OCR. One watch of the state bucket (the KV API's, keys only) wakes exactly the
runs whose submission changed. A slow re-check covers a wake-up lost while NATS was away.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from nats.js import JetStreamContext

from selfeval.bus.state import StateWriteFeed, follow_state_writes
from selfeval.logs import get_logger

log = get_logger("selfeval.flows")

RECHECK_SECONDS = 5.0
"""Longest a follower sleeps without a wake-up (the feed is down, or a change slipped past it)."""
UNWATCHED_RECHECK_SECONDS = 0.5
"""How often followers look when the feed could not be started: plain polling."""


class StateChanges:
    """Wakes the followers of a submission whenever its state is written."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js
        self._wakers: dict[str, set[asyncio.Event]] = {}
        self._feed: StateWriteFeed | None = None

    async def start(self) -> None:
        try:
            self._feed = await follow_state_writes(self._js, self._wake)
        except Exception as exc:  # followers fall back to polling; work itself never waits on this
            log.warning("state change feed not started; followers poll", error=repr(exc))

    async def stop(self) -> None:
        if self._feed is not None:
            await self._feed.stop()
            self._feed = None

    @property
    def recheck_seconds(self) -> float:
        return RECHECK_SECONDS if self._feed is not None else UNWATCHED_RECHECK_SECONDS

    def _wake(self, submission_id: str) -> None:
        for event in self._wakers.get(submission_id, ()):
            event.set()

    @contextlib.asynccontextmanager
    async def following(self, submission_id: str) -> AsyncIterator[asyncio.Event]:
        """An event set on each write to the submission's state; clear it before reading the state,
        so a write that lands between the read and the wait still wakes the waiter."""
        event = asyncio.Event()
        self._wakers.setdefault(submission_id, set()).add(event)
        try:
            yield event
        finally:
            waiting = self._wakers.get(submission_id, set())
            waiting.discard(event)
            if not waiting:
                self._wakers.pop(submission_id, None)
