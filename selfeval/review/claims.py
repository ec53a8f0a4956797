"""Claims: a reviewer takes a record so that two people do not settle it at once.

A claim lives in the REVIEWS_BUCKET key-value bucket under the record id, with the time it runs out.
Every write is compare-and-set on the key's revision, so two reviewers claiming at the same moment
cannot both win, whichever API process each talks to. An expired claim is nobody's.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.kv import KeyValue
from pydantic import BaseModel

from selfeval.contract.messages import REVIEWS_BUCKET
from selfeval.review.corrections import Refusal, ReviewRefusedError


class Claim(BaseModel):
    reviewer: str
    until: datetime

    def held_by_another(self, reviewer: str, now: datetime) -> bool:
        return self.until > now and self.reviewer != reviewer


def _conflict(claim: Claim) -> ReviewRefusedError:
    return ReviewRefusedError(
        Refusal.conflict,
        f"claimed by {claim.reviewer} until {claim.until.isoformat(timespec='seconds')}; "
        "they must release it first",
    )


class Claims:
    def __init__(self, js: JetStreamContext, claim_seconds: float) -> None:
        self.js, self.claim_seconds = js, claim_seconds

    async def _bucket(self) -> KeyValue:
        return await self.js.key_value(REVIEWS_BUCKET)

    async def _current(self, kv: KeyValue, record_id: str) -> tuple[Claim | None, int | None]:
        try:
            entry = await kv.get(record_id)
        except nats.js.errors.KeyNotFoundError:  # never claimed, or released (a delete marker)
            return None, None
        return Claim.model_validate_json(entry.value or b"{}"), entry.revision

    async def holder(self, record_id: str, now: datetime) -> Claim | None:
        """The unexpired claim on the record, if any."""
        claim, _ = await self._current(await self._bucket(), record_id)
        return claim if claim is not None and claim.until > now else None

    async def check_free_for(self, record_id: str, reviewer: str, now: datetime) -> None:
        """Raise a conflict when another reviewer holds the record."""
        claim = await self.holder(record_id, now)
        if claim is not None and claim.held_by_another(reviewer, now):
            raise _conflict(claim)

    async def claim(self, record_id: str, reviewer: str, now: datetime) -> Claim:
        """Take (or extend) the claim; a conflict when another reviewer holds it."""
        kv = await self._bucket()
        current, revision = await self._current(kv, record_id)
        if current is not None and current.held_by_another(reviewer, now):
            raise _conflict(current)
        claim = Claim(reviewer=reviewer, until=now + timedelta(seconds=self.claim_seconds))
        try:
            if revision is None:
                await kv.create(record_id, claim.model_dump_json().encode())
            else:
                await kv.update(record_id, claim.model_dump_json().encode(), last=revision)
        except nats.js.errors.KeyWrongLastSequenceError:
            # Someone else wrote the claim between our read and our write: theirs stands.
            winner = await self.holder(record_id, now)
            raise _conflict(winner or claim) from None
        return claim

    async def reserve_version(self, record_id: str, version: int, reviewer: str) -> None:
        """Take the right to publish `version` of the record: exactly one decision makes each version,
        even when two API processes decide at the same moment (a conflict for the later one)."""
        kv = await self._bucket()
        try:
            await kv.create(f"{record_id}.v{version}", reviewer.encode())
        except nats.js.errors.KeyWrongLastSequenceError:
            raise ReviewRefusedError(
                Refusal.conflict, f"version {version} was made by another decision meanwhile; reload it"
            ) from None

    async def unreserve_version(self, record_id: str, version: int) -> None:
        """Give a version back when its decision could not be published (it may be decided again)."""
        kv = await self._bucket()
        await kv.delete(f"{record_id}.v{version}")

    async def release(self, record_id: str, reviewer: str, now: datetime) -> None:
        """Give the record back; a conflict when another reviewer holds it. Releasing a record nobody
        holds is fine."""
        kv = await self._bucket()
        current, revision = await self._current(kv, record_id)
        if current is None:
            return
        if current.held_by_another(reviewer, now):
            raise _conflict(current)
        try:
            await kv.delete(record_id, last=revision)
        except nats.js.errors.KeyWrongLastSequenceError:
            await self.check_free_for(record_id, reviewer, now)
