"""The messages the services exchange over NATS JetStream, and the names they meet under.

A submission moves ocr → parse → score → publish. Each hand-off is a JetStream message that names
objects in the Object Store (scans, OCR tables) rather than carrying megabytes; the records
themselves are small and travel in the messages. The submission id is the SHA-256 of the
submitted bytes, so a re-dropped or renamed identical file is the same submission.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from selfeval.contract.record import Record, Status

# --- names ---------------------------------------------------------------------------------------

WORK_STREAM = "SELFEVAL_WORK"
"""Work-queue stream holding the hand-offs between stages."""
RECORDS_STREAM = "SELFEVAL_RECORDS"
"""Durable stream of finished records, for consumers that connect later."""
DEAD_LETTER_STREAM = "SELFEVAL_DEAD"
SCANS_BUCKET = "selfeval-scans"
"""Object Store bucket: submitted files by submission id, OCR tables by `<id>.tables.json`."""
STATE_BUCKET = "selfeval-submissions"
"""KV bucket: the `SubmissionState` of each submission id."""
BUCKET_EVENTS_SUBJECT = "selfeval.events.bucket"
"""Core-NATS nudge: something new may be in the watched bucket (payload: keys, if known)."""


class Stage(StrEnum):
    ocr = "ocr"
    parse = "parse"
    score = "score"
    publish = "publish"


def stage_subject(stage: Stage) -> str:
    """Where work for a stage waits (`selfeval.work.ocr`, …)."""
    return f"selfeval.work.{stage.value}"


def records_subject(status: Status) -> str:
    """Where finished records go: `selfeval.records.verified`, `.review` or `.rejected`."""
    suffix = {Status.verified: "verified", Status.needs_review: "review", Status.rejected: "rejected"}[status]
    return f"selfeval.records.{suffix}"


def dead_letter_subject(stage: Stage) -> str:
    return f"selfeval.dead.{stage.value}"


def tables_object(submission_id: str) -> str:
    return f"{submission_id}.tables.json"


# --- messages ------------------------------------------------------------------------------------


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    submission_id: str = Field(description="SHA-256 of the submitted bytes")
    source: str = Field(description="bucket key or path the submission came from")


class OcrRequest(_Message):
    """A scan waiting to be read; its bytes are the Object Store object named `submission_id`."""

    size: int = Field(ge=0)


class ParseRequest(_Message):
    """OCR done; the tables are the Object Store object `tables_object(submission_id)`."""

    timings: dict[str, float] = Field(default_factory=dict)


class ScoreRequest(_Message):
    """Parsed records, not yet scored."""

    records: list[Record]


class PublishRequest(_Message):
    """Scored records, ready to go downstream."""

    records: list[Record]


class StageState(StrEnum):
    waiting = "waiting"
    running = "running"
    done = "done"
    failed = "failed"


class SubmissionState(BaseModel):
    """What the KV bucket keeps per submission: how far it got, and what came out."""

    model_config = ConfigDict(extra="forbid")

    submission_id: str
    source: str
    received_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    stages: dict[Stage, StageState] = Field(default_factory=lambda: dict.fromkeys(Stage, StageState.waiting))
    stage_seconds: dict[Stage, float] = Field(default_factory=dict)
    errors: dict[Stage, str] = Field(default_factory=dict)
    record_ids: list[str] = Field(default_factory=list)
    statuses: list[Status] = Field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.stages[Stage.publish] is StageState.done or any(
            state is StageState.failed for state in self.stages.values()
        )
