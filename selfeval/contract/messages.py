"""The messages the services exchange over NATS JetStream, and the names they meet under.

A submission moves ocr → parse → score → publish. Each hand-off is a JetStream message that names
objects in the Object Store (scans, OCR tables) rather than carrying megabytes; the records
themselves are small and travel in the messages. The submission id is the SHA-256 of the
submitted bytes, so a re-dropped or renamed identical file is the same submission.

Every message is untrusted input: validating one checks not only its shape but that it is consistent
(ids in their patterns, records belonging to the submission the message names, under the record id
`record_id_for` gives), so a forged or corrupted hand-off fails validation instead of naming a file.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from selfeval.contract.record import Record, Status

# --- names ---------------------------------------------------------------------------------------

WORK_STREAM = "SELFEVAL_WORK"
"""Work-queue stream holding the hand-offs between stages."""
RECORDS_STREAM = "SELFEVAL_RECORDS"
"""Durable stream of finished records, for consumers that connect later."""
DEAD_LETTER_STREAM = "SELFEVAL_DEAD"
EXHAUSTED_STREAM = "SELFEVAL_EXHAUSTED"
"""Keeps the server's advisories of work messages that used up their deliveries (see StageWorker)."""
MAX_DELIVERIES_ADVISORY = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES"
SCANS_BUCKET = "selfeval-scans"
"""Object Store bucket: submitted files by submission id, OCR tables by `<id>.tables.json`, the upright
page images the OCR read by `<id>.page-<n>.png`."""
STATE_BUCKET = "selfeval-submissions"
"""KV bucket: the `SubmissionState` of each submission id."""
REVIEWS_BUCKET = "selfeval-reviews"
"""KV bucket: who has claimed which record for review, and until when (`<record_id>` keys)."""
SCANS_STREAM = f"OBJ_{SCANS_BUCKET}"
STATE_STREAM = f"KV_{STATE_BUCKET}"
REVIEWS_STREAM = f"KV_{REVIEWS_BUCKET}"
"""The streams JetStream keeps the buckets in (what permissions and bindings name)."""
BUCKET_EVENTS_SUBJECT = "selfeval.events.bucket"
"""Core-NATS nudge: something new may be in the watched bucket (payload: keys, if known)."""

SUBMISSION_ID_PATTERN = r"^[0-9a-f]{64}$"
"""A submission id is the SHA-256 of the submitted bytes, in lowercase hex; it names Object Store objects."""
SubmissionId = Annotated[
    str, Field(pattern=SUBMISSION_ID_PATTERN, description="SHA-256 of the submitted bytes (64 hex digits)")
]


def submission_id_for(data: bytes) -> str:
    """A submission's id: the SHA-256 of its bytes, so the same file dropped twice is one submission."""
    return hashlib.sha256(data).hexdigest()


class Stage(StrEnum):
    ocr = "ocr"
    parse = "parse"
    score = "score"
    publish = "publish"


def stage_subject(stage: Stage) -> str:
    """Where work for a stage waits (`selfeval.work.ocr`, …)."""
    return f"selfeval.work.{stage.value}"


RECORDS_SUBJECT_PREFIX = "selfeval.records"
RECORDS_SUBJECTS = f"{RECORDS_SUBJECT_PREFIX}.>"
"""Every records subject: what RECORDS_STREAM keeps, and what only the scorer may publish on."""


RECORD_CHANNELS: dict[Status, str] = {
    Status.verified: "verified",
    Status.needs_review: "review",
    Status.rejected: "rejected",
    Status.confirmed: "confirmed",
}
"""Where a finished record goes, by its status: the subject `selfeval.records.<channel>` and the outbox
folder `<channel>/`."""


def record_channel(status: Status | None) -> str:
    # A record without a status was never scored; it needs a person.
    return RECORD_CHANNELS[status or Status.needs_review]


def records_subject(status: Status) -> str:
    """Where finished records go: `selfeval.records.verified`, `.review` or `.rejected`."""
    return channel_subject(record_channel(status))


def record_message_id(record: Record) -> str:
    """The records stream's de-duplication id: one per record and version, so re-publishing a record is
    dropped while a reviewed version (2, 3, …) still goes out."""
    assert record.record_id is not None
    if record.record_version == 1:
        return record.record_id  # what every first version has always been published under
    return f"{record.record_id}.v{record.record_version}"


def channel_subject(channel: str) -> str:
    """The subject of one channel of RECORD_CHANNELS (what `selfeval tail --status` names)."""
    return f"{RECORDS_SUBJECT_PREFIX}.{channel}"


def dead_letter_subject(stage: Stage) -> str:
    return f"selfeval.dead.{stage.value}"


def durable_name(stage: Stage) -> str:
    """The work-queue consumer of a stage, shared by all its workers."""
    return f"selfeval-{stage.value}"


def exhausted_durable_name(stage: Stage) -> str:
    """The consumer of a stage's max-deliveries advisories in EXHAUSTED_STREAM."""
    return f"{durable_name(stage)}-exhausted"


def exhausted_subject(stage: Stage) -> str:
    """Where the server announces a message of the stage's queue that used up its deliveries."""
    return f"{MAX_DELIVERIES_ADVISORY}.{WORK_STREAM}.{durable_name(stage)}"


def tables_object(submission_id: str) -> str:
    return f"{submission_id}.tables.json"


def page_image_object(submission_id: str, page: int) -> str:
    """The upright image of a submission's page (1-based) as the OCR read it, a grey PNG."""
    return f"{submission_id}.page-{page}.png"


# --- messages ------------------------------------------------------------------------------------


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    submission_id: SubmissionId
    source: str = Field(description="bucket key or path the submission came from")


class OcrRequest(_Message):
    """A scan waiting to be read; its bytes are the Object Store object named `submission_id`."""

    size: int = Field(ge=0)


class ParseRequest(_Message):
    """OCR done; the tables are the Object Store object `tables_object(submission_id)`."""

    timings: dict[str, float] = Field(default_factory=dict)


class _RecordsMessage(_Message):
    records: list[Record]

    @model_validator(mode="after")
    def _records_belong_to_the_submission(self) -> Self:
        for index, record in enumerate(self.records):
            problem = foreign_record_problem(record, self.submission_id, self.source)
            if problem:
                raise ValueError(f"record {index}: {problem}")
        return self


def foreign_record_problem(record: Record, submission_id: str, source: str) -> str | None:
    """Why `record` cannot be one of this submission's records (None: it can)."""
    if record.submission.sha256 != submission_id:
        return f"it belongs to submission {record.submission.sha256!r}, not to {submission_id}"
    if record.submission.source != source:
        return f"its source {record.submission.source!r} is not the submission's {source!r}"
    expected = record.identity()  # its sha256 is the submission's, checked above
    if record.record_id is not None and record.record_id != expected:
        return f"record_id {record.record_id} is not {expected}, the one its submission and first page give"
    return None


class ScoreRequest(_RecordsMessage):
    """Parsed records, not yet scored."""


class PublishRequest(_RecordsMessage):
    """Scored records, ready to go downstream."""

    @model_validator(mode="after")
    def _records_are_scored(self) -> Self:
        for index, record in enumerate(self.records):
            if record.status is None:
                raise ValueError(f"record {index} has no status: only scored records are published")
        return self


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
