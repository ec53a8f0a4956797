"""The publish stage: PublishRequest → each record on `selfeval.records.<status>` and in the outbox.

It sends each record to RECORDS_STREAM (de-duplicated by record_id) and writes it to the outbox, then
notes the submission's record ids and statuses in its state. It trusts no status it is handed: every
record that is not a rejection is scored again and must come out with the status it claims, so a
forged `verified` never reaches the outbox.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from nats.js import JetStreamContext

from selfeval.bus.handoff import MSG_ID, Handoff, InvalidMessageError, StageHandler
from selfeval.bus.state import update_state
from selfeval.contract.messages import (
    PublishRequest,
    Stage,
    SubmissionState,
    record_message_id,
    records_subject,
)
from selfeval.contract.record import Record, Status
from selfeval.logs import get_logger
from selfeval.outbox import Outbox
from services.scorer import score_record

log = get_logger("selfeval.publishing")
OUTBOX_PATIENCE = 600.0
"""Seconds a record keeps trying to reach an unreachable outbox (S3 down) before the attempt fails."""


async def publish_record(js: JetStreamContext, outbox: Outbox, record: Record) -> None:
    assert record.status is not None and record.record_id is not None
    # The record id (and version) is the message id: a second publish of the same record is dropped.
    await js.publish(
        records_subject(record.status),
        record.model_dump_json().encode(),
        headers={MSG_ID: record_message_id(record)},
    )
    await write_patiently(outbox, record)


async def write_patiently(outbox: Outbox, record: Record, patience: float = OUTBOX_PATIENCE) -> None:
    """Write to the outbox, waiting out an outage of the store instead of spending the stage's attempts.

    Each failed attempt would otherwise count towards max_deliver and, after the last one, the record
    would be dead-lettered although nothing is wrong with it; the stage heartbeats meanwhile.
    """
    deadline, delay = time.monotonic() + patience, 0.5
    while True:
        try:
            await asyncio.to_thread(outbox.write_record, record)
            return
        except Exception as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning(
                "outbox unreachable; retrying", record_id=record.record_id, error=str(exc), delay=delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 15.0)


def confirm_status(record: Record) -> None:
    """Raise InvalidMessageError unless scoring the record gives the status it claims (rejections stand:
    any stage may reject what it cannot read)."""
    if record.status is Status.rejected:
        return
    rescored = score_record(record)
    if rescored.status is not record.status:
        raise InvalidMessageError(
            f"record {record.record_id} claims {record.status}, but its figures give {rescored.status}"
        )


def _with_id(record: Record) -> Record:
    # The request's validation made sure the record belongs to the submission it names.
    record.record_id = record.record_id or record.identity()
    return record


def publish_handlers(js: JetStreamContext, outbox: Outbox) -> Mapping[Stage, StageHandler]:
    async def publish(request: PublishRequest) -> list[Handoff]:
        for record in request.records:
            confirm_status(record)
        records = [_with_id(record) for record in request.records]
        for record in records:
            await publish_record(js, outbox, record)

        def note(state: SubmissionState) -> None:
            state.record_ids = [record.record_id or "" for record in records]
            state.statuses = [record.status for record in records if record.status is not None]

        await update_state(js, request.submission_id, note)
        return []

    return {Stage.publish: publish}
