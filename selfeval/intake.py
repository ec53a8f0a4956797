"""Intake: how a scan becomes a submission, and how a submission that cannot go on ends.

- `submit`: a file is queued for OCR once (its id is the SHA-256 of its bytes, so the same bytes
  dropped again, under any name, give no second submission);
- `requeue_lost_submissions`: the watcher's repair for a submitter that died between writing the
  state and queueing the work;
- `rejected_record`, `rejection_handoff`: the one rejected record a submission ends with when it
  cannot be read or a stage gives up on it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import nats.js.errors
from nats.js import JetStreamContext

from selfeval import __version__
from selfeval.bus.handoff import Handoff, StageMessage, publish_handoff, queued_submissions
from selfeval.bus.state import create_state, current_states, get_state
from selfeval.contract.messages import (
    SCANS_BUCKET,
    OcrRequest,
    PublishRequest,
    Stage,
    StageState,
    SubmissionState,
    submission_id_for,
)
from selfeval.contract.record import Record
from selfeval.logs import get_logger

log = get_logger("selfeval.intake")


async def submit(js: JetStreamContext, data: bytes, source: str) -> tuple[SubmissionState, bool]:
    """Queue a file for OCR once: `(state, True)` the first time, `(existing state, False)` after."""
    submission_id = submission_id_for(data)
    existing = await get_state(js, submission_id)
    if existing is not None:
        return existing, False
    # The bytes go in first, so whoever wins the claim below can hand on at once.
    scans = await js.object_store(SCANS_BUCKET)
    await scans.put(submission_id, data)
    state = SubmissionState(submission_id=submission_id, source=source)
    if not await create_state(js, state):
        # A racing submitter of the same bytes won; theirs is the submission.
        winner = await get_state(js, submission_id)
        return (winner or state), False
    request = OcrRequest(submission_id=submission_id, source=source, size=len(data))
    await publish_handoff(js, Handoff.to(Stage.ocr, request))
    return state, True


def _lost_before_ocr(state: SubmissionState, queued: set[str], older_than: float) -> bool:
    age = (datetime.now(UTC) - state.received_at).total_seconds()
    return (
        state.stages[Stage.ocr] is StageState.waiting
        and not state.finished
        and state.submission_id not in queued
        and age > older_than
    )


async def requeue_lost_submissions(js: JetStreamContext, older_than: float = 10.0) -> list[str]:
    """Re-publish the OcrRequest of submissions whose state exists but whose work never reached the queue.

    `submit` writes the state before it publishes; a submitter dying in between (or NATS going away
    then) leaves the submission "ocr waiting" forever. The re-publish carries the same msg-id as the
    original, so a late original and the re-publish cannot both be queued within the dedup window, and a
    second copy after it is skipped by the stage's done check.
    """
    queued = await queued_submissions(js, Stage.ocr)
    scans = await js.object_store(SCANS_BUCKET)
    requeued = []
    async for state in current_states(js):
        if not _lost_before_ocr(state, queued, older_than):
            continue
        try:
            info = await scans.get_info(state.submission_id)
        except nats.js.errors.ObjectNotFoundError:
            continue  # the submitter died before storing the bytes; a re-drop submits it again
        request = OcrRequest(submission_id=state.submission_id, source=state.source, size=info.size or 0)
        await publish_handoff(js, Handoff.to(Stage.ocr, request))
        requeued.append(state.submission_id)
        log.warning("re-queued a submission lost before OCR", submission_id=state.submission_id)
    return requeued


def rejected_record(submission_id: str, source: str, reason: str) -> Record:
    """The record of a submission that gives no form: input refused, or a stage that gave up."""
    record = Record.rejected(submission_id, source, [], reason)
    record.provenance.pipeline_version = __version__
    return record


def rejection_handoff(request: StageMessage, reason: str) -> Handoff:
    """The rejected record of `request`'s submission, on its way to the publish stage."""
    record = rejected_record(request.submission_id, request.source, reason)
    message = PublishRequest(submission_id=request.submission_id, source=request.source, records=[record])
    return Handoff.to(Stage.publish, message)
