"""Hand-offs: the messages a stage emits to the next one, on the work stream.

Every hand-off carries a `Nats-Msg-Id` (one per submission and stage), so the stream drops a
duplicate within its window; together with a stage already `done` in the KV state being acked
without rerunning, and records keyed by their stable `record_id`, this gives exactly-once output.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import nats.js.errors
from nats.js import JetStreamContext
from pydantic import BaseModel, ValidationError

from selfeval.contract.messages import (
    WORK_STREAM,
    OcrRequest,
    ParseRequest,
    PublishRequest,
    ScoreRequest,
    Stage,
    stage_subject,
)

MSG_ID = "Nats-Msg-Id"
StageMessage = OcrRequest | ParseRequest | ScoreRequest | PublishRequest
"""What waits on a stage's work subject; every one names its submission and source."""

STAGE_MESSAGES: dict[Stage, type[StageMessage]] = {
    Stage.ocr: OcrRequest,
    Stage.parse: ParseRequest,
    Stage.score: ScoreRequest,
    Stage.publish: PublishRequest,
}


@dataclass(frozen=True)
class Handoff:
    """A message a stage emits: where it goes, what it says, and its de-duplication id."""

    subject: str
    message: BaseModel
    msg_id: str

    @classmethod
    def to(cls, stage: Stage, message: StageMessage) -> Handoff:
        # One message per (submission, stage): a re-run stage re-sends the same id and is dropped.
        msg_id = message.submission_id if stage is Stage.ocr else f"{message.submission_id}.{stage.value}"
        return cls(stage_subject(stage), message, msg_id)


async def publish_handoff(js: JetStreamContext, handoff: Handoff) -> None:
    await js.publish(
        handoff.subject, handoff.message.model_dump_json().encode(), headers={MSG_ID: handoff.msg_id}
    )


class PermanentError(Exception):
    """A failure retrying cannot fix: the stage gives up at once instead of after max_deliver."""


class InvalidMessageError(Exception):
    """A well-formed message that contradicts what the system knows (forged, or corrupted on the way):
    dead-lettered with the reason and never turned into a record; the submission's state is left alone."""


StageHandler = Callable[[Any], Awaitable[Sequence[Handoff]]]
"""Receives the stage's request model, returns the hand-offs to the next stage."""


async def queued_submissions(js: JetStreamContext, stage: Stage) -> set[str]:
    """Ids of the submissions whose work for `stage` still sits in the work stream (queued or in flight)."""
    found: set[str] = set()
    sequence = 1
    while True:
        try:
            stored = await js.get_msg(WORK_STREAM, seq=sequence, subject=stage_subject(stage), next=True)
        except nats.js.errors.NotFoundError:
            return found
        with contextlib.suppress(ValidationError):
            found.add(STAGE_MESSAGES[stage].model_validate_json(stored.data or b"").submission_id)
        sequence = (stored.seq or sequence) + 1
