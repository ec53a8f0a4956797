"""The review desk: the use case behind every review call (HTTP, CLI through HTTP, the review page).

It finds a record's current version in the outbox, checks that the caller may settle it (the version
they saw is the current one, nobody else holds a claim on it, it still needs review), lets
`corrections` decide the next version, then publishes that version on the records stream and writes
it to the outbox, which removes the superseded copy: one current record per form, in exactly one
outbox folder. Decisions on one record are taken one at a time.

The submission's state keeps what its run gave (the API may not write state, so a compromised API
cannot mark a submission done before it is read); a record's current status is in the outbox and on
the records stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from nats.js import JetStreamContext

from selfeval.bus.state import get_state
from selfeval.contract import Record, Status, is_record_id
from selfeval.logs import get_logger
from selfeval.outbox import Outbox, current_record
from selfeval.publishing import publish_record
from selfeval.review.claims import Claim, Claims
from selfeval.review.corrections import Refusal, ReviewRefusedError, confirmed, corrected

log = get_logger("selfeval.review")

Announce = Callable[[Record, str, str], Coroutine[Any, Any, None]]
"""Told of every new version (record, action, reviewer), e.g. to show the review in Prefect."""


class Action(StrEnum):
    corrected = "corrected"
    confirmed = "confirmed"


@dataclass(frozen=True)
class QueueEntry:
    """One record that needs a look, as the review list shows it."""

    record: Record
    received_at: datetime | None
    claim: Claim | None


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ReviewDesk:
    js: JetStreamContext
    outbox: Outbox
    claims: Claims
    announce: Announce | None = None
    clock: Callable[[], datetime] = _now
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _announcing: set[asyncio.Task[None]] = field(default_factory=set)

    async def current(self, record_id: str) -> Record:
        """The record's current version (404 when there is none)."""
        if not is_record_id(record_id):
            raise ReviewRefusedError(Refusal.not_found, "a record id is 24 hexadecimal digits")
        record = await asyncio.to_thread(current_record, self.outbox, record_id)
        if record is None:
            raise ReviewRefusedError(Refusal.not_found, f"no record {record_id}")
        return record

    async def queue(self) -> list[QueueEntry]:
        """Every record that needs review, oldest submission first."""
        now = self.clock()
        entries = []
        for record_id in await asyncio.to_thread(self.outbox.record_ids, Status.needs_review):
            record = await asyncio.to_thread(self.outbox.read_record, record_id, Status.needs_review)
            if record is None:  # settled while we listed
                continue
            state = await get_state(self.js, record.submission.sha256) if record.submission.sha256 else None
            entries.append(
                QueueEntry(
                    record, state.received_at if state else None, await self.claims.holder(record_id, now)
                )
            )
        return sorted(entries, key=lambda entry: entry.received_at or now)

    async def claim(self, record_id: str, reviewer: str) -> Claim:
        record = await self.current(record_id)
        _must_need_review(record)
        return await self.claims.claim(record_id, reviewer, self.clock())

    async def release(self, record_id: str, reviewer: str) -> None:
        await self.current(record_id)
        await self.claims.release(record_id, reviewer, self.clock())

    async def correct(
        self,
        record_id: str,
        reviewer: str,
        version: int,
        changes: list[tuple[str, str | None]],
        note: str | None,
    ) -> Record:
        def decide(record: Record, at: datetime) -> Record:
            return corrected(record, changes, reviewer, at, note)

        return await self._settle(record_id, reviewer, version, decide, Action.corrected)

    async def confirm(self, record_id: str, reviewer: str, version: int, note: str | None) -> Record:
        def decide(record: Record, at: datetime) -> Record:
            return confirmed(record, reviewer, at, note)

        return await self._settle(record_id, reviewer, version, decide, Action.confirmed)

    async def _settle(
        self,
        record_id: str,
        reviewer: str,
        version: int,
        decide: Callable[[Record, datetime], Record],
        action: str,
    ) -> Record:
        lock = self._locks.setdefault(record_id, asyncio.Lock())
        async with lock:
            current = await self.current(record_id)
            _must_need_review(current)
            if version != current.record_version:
                raise ReviewRefusedError(
                    Refusal.conflict,
                    f"version {version} is stale: the record is at version {current.record_version}; "
                    "reload it and decide again",
                )
            now = self.clock()
            await self.claims.check_free_for(record_id, reviewer, now)
            new = decide(current, now)
            await self.claims.reserve_version(record_id, new.record_version, reviewer)
            try:
                await publish_record(self.js, self.outbox, new)
            except BaseException:
                await self.claims.unreserve_version(record_id, new.record_version)
                raise
            log.info(
                "record reviewed",
                record_id=record_id,
                action=action,
                reviewer=reviewer,
                version=new.record_version,
                status=new.status,
            )
            if new.status is not Status.needs_review:
                await self.claims.release(record_id, reviewer, now)
        if self.announce is not None:
            # Shown in Prefect in the background: the reviewer does not wait on it, and it never fails
            # a decision that is already published.
            task = asyncio.create_task(self.announce(new, action, reviewer))
            self._announcing.add(task)
            task.add_done_callback(self._announcing.discard)
        return new


def _must_need_review(record: Record) -> None:
    if record.status is not Status.needs_review:
        raise ReviewRefusedError(
            Refusal.conflict, f"the record is {record.status}: only records that need review are reviewed"
        )
