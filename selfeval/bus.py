"""NATS JetStream plumbing shared by every selfeval service process.

- `connect`: one client per process, reconnecting forever; wrong credentials fail at once, clearly.
- `ensure_topology`: the streams and buckets of `selfeval.contract.messages`, created idempotently
  (by the admin: `selfeval up`, `selfeval topology`); `bind_topology`: what every part does instead,
  waiting until they exist (parts may not create or change them, see `selfeval.permissions`).
- `submit`, `get_state`, `update_state`, `watch_states`: submissions and their `SubmissionState` in KV.
- `StageWorker`: a durable pull consumer per stage that runs a handler, hands its results on, retries
  with backoff and, after the last attempt, dead-letters the message and still emits one rejected record.
- `serve`/`run_service`: a service process (workers + a `nats.micro` service) living until SIGTERM;
  the connection itself comes from the caller (`selfeval.bootstrap.connect_nats`).

Exactly-once output rests on three layers: `Nats-Msg-Id` on every hand-off (the stream drops a
duplicate within its window), a stage already `done` in the KV state is acked without rerunning, and
records go to RECORDS_STREAM and the outbox under their stable `record_id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import nats
import nats.errors
import nats.js.errors
import nats.micro
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.kv import KeyValue
from nats.micro.request import Request
from pydantic import BaseModel, ValidationError

from selfeval import __version__
from selfeval.contract.messages import (
    DEAD_LETTER_STREAM,
    EXHAUSTED_STREAM,
    MAX_DELIVERIES_ADVISORY,
    RECORDS_STREAM,
    RECORDS_SUBJECTS,
    SCANS_BUCKET,
    SCANS_STREAM,
    STATE_BUCKET,
    STATE_STREAM,
    WORK_STREAM,
    OcrRequest,
    ParseRequest,
    PublishRequest,
    ScoreRequest,
    Stage,
    StageState,
    SubmissionState,
    dead_letter_subject,
    durable_name,
    exhausted_durable_name,
    exhausted_subject,
    stage_subject,
)
from selfeval.contract.record import Record
from selfeval.logs import get_logger
from selfeval.redaction import redact
from selfeval.settings import get_settings
from selfeval.validation import describe_validation_error

log = get_logger("selfeval.bus")
T = TypeVar("T")

MSG_ID = "Nats-Msg-Id"
ERROR_HEADER = "Selfeval-Error"
DELIVERIES_HEADER = "Selfeval-Deliveries"

StageMessage = OcrRequest | ParseRequest | ScoreRequest | PublishRequest
"""What waits on a stage's work subject; every one names its submission and source."""

STAGE_MESSAGES: dict[Stage, type[StageMessage]] = {
    Stage.ocr: OcrRequest,
    Stage.parse: ParseRequest,
    Stage.score: ScoreRequest,
    Stage.publish: PublishRequest,
}


# --- settings ------------------------------------------------------------------------------------


class WorkerTuning(Protocol):
    """How stage workers pace themselves; `selfeval.settings.Settings` provides these fields."""

    ack_wait: float
    max_deliver: int
    retry_backoff: list[float]
    worker_concurrency: int


# --- connection ----------------------------------------------------------------------------------


class BusAuthError(ConnectionError):
    """The NATS server refused our credentials; retrying cannot help."""


def _is_auth_error(error: BaseException) -> bool:
    text = str(error).lower()
    return isinstance(error, nats.errors.AuthorizationError) or "authorization violation" in text


async def connect(url: str, name: str, *, initial_timeout: float | None = None, **auth: Any) -> Client:
    """A client that reconnects forever; fails at once (BusAuthError) when credentials are refused.

    `initial_timeout` bounds how long the first connection may take (None: wait for the server forever,
    which is what a service started before its server wants).
    """
    refused: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()
    last_logged = 0.0

    async def on_error(error: Exception) -> None:
        nonlocal last_logged
        if _is_auth_error(error):
            if not refused.done():
                refused.set_result(error)
            return
        # One line per error, at most every few seconds: an unreachable server retries a lot.
        now = time.monotonic()
        if now - last_logged > 5:
            last_logged = now
            log.warning("nats error", connection=name, error=str(error) or type(error).__name__)

    async def on_disconnect() -> None:
        # Closing on purpose also "disconnects"; only an unplanned loss is worth a warning.
        if not (client.is_closed or client.is_draining):
            log.warning("nats disconnected", connection=name)

    async def on_reconnect() -> None:
        log.info(
            "nats reconnected", connection=name, url=str(client.connected_url and client.connected_url.netloc)
        )

    async def on_close() -> None:
        log.info("nats connection closed", connection=name)

    client = Client()
    connecting = asyncio.ensure_future(
        client.connect(
            servers=server_urls(url),
            name=name,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            connect_timeout=5,
            ping_interval=20,
            max_outstanding_pings=3,
            drain_timeout=10,
            error_cb=on_error,
            disconnected_cb=on_disconnect,
            reconnected_cb=on_reconnect,
            closed_cb=on_close,
            **auth,
        )
    )
    done, _ = await asyncio.wait(
        {connecting, refused}, timeout=initial_timeout, return_when=asyncio.FIRST_COMPLETED
    )
    if connecting in done:
        connecting.result()
        log.info("nats connected", connection=name, url=url)
        return client
    connecting.cancel()
    with contextlib.suppress(BaseException):
        await connecting
    with contextlib.suppress(Exception):
        await client.close()
    if refused in done:
        raise BusAuthError(
            f"NATS at {url} refused the credentials of {name!r} (authorization violation): "
            "check SELFEVAL_NATS_USER/SELFEVAL_NATS_PASSWORD or SELFEVAL_NATS_CREDS"
        )
    raise ConnectionError(f"NATS at {url} not reachable within {initial_timeout}s")


def server_urls(url: str) -> list[str]:
    """`nats://a:4222,nats://b:4222` (a cluster, as NATS_URL may name it) → one URL per server."""
    return [part.strip() for part in url.split(",") if part.strip()]


# --- topology ------------------------------------------------------------------------------------

_STREAM_IN_USE = 10058  # "stream name already in use with a different configuration"


async def _ensure_stream(js: JetStreamContext, config: api.StreamConfig) -> None:
    """Create, or bring an older definition up to date; identical concurrent creates both succeed."""
    try:
        await js.add_stream(config)
    except nats.js.errors.BadRequestError as exc:
        if exc.err_code != _STREAM_IN_USE:
            raise
        await js.update_stream(config)


TOPOLOGY_STREAMS = (
    WORK_STREAM,
    RECORDS_STREAM,
    DEAD_LETTER_STREAM,
    EXHAUSTED_STREAM,
    STATE_STREAM,
    SCANS_STREAM,
)
"""The streams behind `ensure_topology`'s streams and buckets (a bucket is a stream underneath)."""
BIND_RETRY_SECONDS = 2.0


async def bind_topology(js: JetStreamContext) -> bool:
    """Wait until every stream and bucket exists (a part binds; only the admin creates them). True once
    they do; logs once while it waits."""
    waiting_since: float | None = None
    while True:
        missing = []
        for stream in TOPOLOGY_STREAMS:
            try:
                await js.stream_info(stream)
            except (nats.js.errors.NotFoundError, nats.js.errors.ServiceUnavailableError, TimeoutError):
                missing.append(stream)  # not created yet, or the cluster is still electing its leader
        if not missing:
            if waiting_since is not None:
                log.info("streams and buckets are there", waited=round(time.monotonic() - waiting_since, 1))
            return True
        if waiting_since is None:
            waiting_since = time.monotonic()
            log.warning(
                "waiting for the streams and buckets: `selfeval up` or `selfeval topology` creates them",
                missing=missing,
            )
        await asyncio.sleep(BIND_RETRY_SECONDS)


async def ensure_topology(js: JetStreamContext, replicas: int = 1) -> None:
    """The four streams and two buckets; safe to call at every start (the admin's job)."""
    await _ensure_stream(
        js,
        api.StreamConfig(
            name=WORK_STREAM,
            subjects=["selfeval.work.>"],
            retention=api.RetentionPolicy.WORK_QUEUE,
            storage=api.StorageType.FILE,
            duplicate_window=120,
            num_replicas=replicas,
        ),
    )
    await _ensure_stream(
        js,
        api.StreamConfig(
            name=RECORDS_STREAM,
            subjects=[RECORDS_SUBJECTS],
            retention=api.RetentionPolicy.LIMITS,
            storage=api.StorageType.FILE,
            # Long, because a record re-published after a late redelivery must still be dropped.
            duplicate_window=24 * 3600,
            num_replicas=replicas,
        ),
    )
    await _ensure_stream(
        js,
        api.StreamConfig(
            name=DEAD_LETTER_STREAM,
            subjects=["selfeval.dead.>"],
            retention=api.RetentionPolicy.LIMITS,
            storage=api.StorageType.FILE,
            duplicate_window=120,
            max_age=30 * 24 * 3600,
            num_replicas=replicas,
        ),
    )
    await _ensure_stream(
        js,
        api.StreamConfig(
            name=EXHAUSTED_STREAM,
            # The server's advisory for a work message that used up its deliveries (the worker died on
            # its last attempt), kept durably so a worker dead-letters it even if none listened then.
            subjects=[f"{MAX_DELIVERIES_ADVISORY}.{WORK_STREAM}.>"],
            retention=api.RetentionPolicy.WORK_QUEUE,
            storage=api.StorageType.FILE,
            num_replicas=replicas,
        ),
    )
    await js.create_object_store(
        SCANS_BUCKET, api.ObjectStoreConfig(storage=api.StorageType.FILE, replicas=replicas)
    )
    await js.create_key_value(
        api.KeyValueConfig(bucket=STATE_BUCKET, history=5, storage=api.StorageType.FILE, replicas=replicas)
    )


async def prepare_topology(url: str, replicas: int, patience: float = 60.0, **auth: Any) -> None:
    """Connect as the admin (`auth`) and create or update the streams and buckets; retried for
    `patience` seconds while a cluster elects its leader. Refused credentials fail at once."""
    nc = await connect(url, "selfeval-topology", initial_timeout=patience, **auth)
    try:
        deadline = time.monotonic() + patience
        while True:
            try:
                await ensure_topology(nc.jetstream(), replicas)
                return
            except (nats.js.errors.ServiceUnavailableError, TimeoutError, nats.errors.NoRespondersError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1)
    finally:
        await _drain(nc)


# --- submissions and their state -------------------------------------------------------------------


def submission_id_for(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def _states(js: JetStreamContext) -> KeyValue:
    return await js.key_value(STATE_BUCKET)


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
    kv = await _states(js)
    try:
        await kv.create(submission_id, state.model_dump_json().encode())
    except nats.js.errors.KeyWrongLastSequenceError:
        # A racing submitter of the same bytes won; theirs is the submission.
        winner = await get_state(js, submission_id)
        return (winner or state), False
    request = OcrRequest(submission_id=submission_id, source=source, size=len(data))
    await publish_handoff(js, Handoff.to(Stage.ocr, request))
    return state, True


async def get_state(js: JetStreamContext, submission_id: str) -> SubmissionState | None:
    kv = await _states(js)
    try:
        entry = await kv.get(submission_id)
    except nats.js.errors.KeyNotFoundError:
        return None
    return SubmissionState.model_validate_json(entry.value or b"{}")


async def update_state(
    js: JetStreamContext,
    submission_id: str,
    change: Callable[[SubmissionState], None],
    *,
    default: Callable[[], SubmissionState] | None = None,
    attempts: int = 50,
) -> SubmissionState | None:
    """Apply `change` to the stored state with compare-and-set on the KV revision, retrying on conflict.

    A missing state is created from `default` (None: nothing is written and None is returned).
    """
    kv = await _states(js)
    for attempt in range(attempts):
        try:
            entry = await kv.get(submission_id)
        except nats.js.errors.KeyNotFoundError:
            entry = None
        if entry is not None:
            state = SubmissionState.model_validate_json(entry.value or b"{}")
        elif default is not None:
            state = default()
        else:
            return None
        change(state)
        value = state.model_dump_json().encode()
        try:
            if entry is None:
                await kv.create(submission_id, value)
            else:
                await kv.update(submission_id, value, last=entry.revision)
        except nats.js.errors.KeyWrongLastSequenceError:
            # Someone wrote in between: reread and reapply, after a little jitter to spread contenders.
            await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))
            continue
        return state
    raise RuntimeError(f"state of {submission_id} kept changing under us ({attempts} attempts)")


async def watch_states(js: JetStreamContext, include_history: bool = False) -> AsyncIterator[SubmissionState]:
    """The current state of every submission, then each change as it is written.

    With `include_history` the older kept revisions come first too.
    """
    kv = await _states(js)
    watcher = await kv.watchall(include_history=include_history, ignore_deletes=True)
    try:
        async for entry in watcher:
            if entry is None or not entry.value:  # the marker after the initial values
                continue
            yield SubmissionState.model_validate_json(entry.value)
    finally:
        await watcher.stop()


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


async def current_states(js: JetStreamContext) -> AsyncIterator[SubmissionState]:
    """Every stored state once (the watch's initial values), without waiting for later changes."""
    kv = await _states(js)
    watcher = await kv.watchall(ignore_deletes=True)
    try:
        async for entry in watcher:
            if entry is None:  # the marker after the initial values
                return
            if entry.value:
                yield SubmissionState.model_validate_json(entry.value)
    finally:
        await watcher.stop()


# --- hand-offs -----------------------------------------------------------------------------------


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


# --- stage worker ---------------------------------------------------------------------------------


@dataclass
class StageCounters:
    processed: int = 0
    skipped: int = 0
    retried: int = 0
    failed: int = 0
    in_flight: int = 0


@dataclass
class StageWorker:
    """Consumes one stage's work queue with a durable pull consumer and runs `handler` on each message.

    Per message: validate it (malformed, or for a submission nobody submitted: dead-lettered with the
    reason, no record) → mark the stage running → handler (heartbeating `in_progress` so long OCR is
    not redelivered) → publish the hand-offs → mark done → ack. A handler raising InvalidMessageError has
    the message dead-lettered the same way. Any other exception naks with the next backoff
    delay; on the last attempt the message goes to the dead-letter subject and a rejected record is
    handed to the publish stage, so the submission still ends in exactly one record.

    A worker that dies on every attempt (a poison input that crashes the process) never reaches that
    branch: the server stops delivering after max_deliver and emits a max-deliveries advisory, which
    EXHAUSTED_STREAM keeps; every worker of the stage also consumes those and gives the message up
    the same way.
    """

    js: JetStreamContext
    stage: Stage
    handler: StageHandler
    max_deliver: int = 5
    backoff: Sequence[float] = (2.0, 10.0, 30.0, 60.0)
    ack_wait: float = 30.0
    concurrency: int = 1
    fetch_timeout: float = 1.0
    counters: StageCounters = field(default_factory=StageCounters)
    _subscription: JetStreamContext.PullSubscription | None = None
    _exhausted: JetStreamContext.PullSubscription | None = None

    async def ensure_consumer(self) -> None:
        # Named as well as durable: created by name, the request's subject carries the filter, which
        # is what the part's NATS permissions allow (its own queue, nothing else).
        config = api.ConsumerConfig(
            name=durable_name(self.stage),
            durable_name=durable_name(self.stage),
            filter_subject=stage_subject(self.stage),
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            # Exactly our attempts: a worker dying on the last one is covered by the advisory.
            max_deliver=self.max_deliver,
            max_ack_pending=max(100, self.concurrency * 4),
        )
        # Creating an existing durable with a changed config updates it (server ≥ 2.10).
        await self.js.add_consumer(WORK_STREAM, config)
        self._subscription = await self.js.pull_subscribe_bind(
            durable=durable_name(self.stage), stream=WORK_STREAM
        )
        exhausted = api.ConsumerConfig(
            name=exhausted_durable_name(self.stage),
            durable_name=exhausted_durable_name(self.stage),
            filter_subject=exhausted_subject(self.stage),
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=max(self.ack_wait, 10.0),
        )
        await self.js.add_consumer(EXHAUSTED_STREAM, exhausted)
        self._exhausted = await self.js.pull_subscribe_bind(
            durable=exhausted.durable_name, stream=EXHAUSTED_STREAM
        )

    async def run(self, quit_event: asyncio.Event) -> None:
        """Fetch and handle until `quit_event` is set; in-flight messages finish first."""
        if self._subscription is None:
            await self.ensure_consumer()
        loops = [
            self._fetch_loop(quit_event, lambda: self._subscription, self.handle)
            for _ in range(self.concurrency)
        ]
        loops.append(self._fetch_loop(quit_event, lambda: self._exhausted, self.handle_exhausted))
        await asyncio.gather(*loops)

    async def stop(self) -> None:
        """Drop the pull subscription (call after `run` returned, before draining the connection).

        Draining a connection with a pull subscription still attached waits forever on the fetch
        status messages nobody reads any more.
        """
        subscriptions = (self._subscription, self._exhausted)
        self._subscription = self._exhausted = None
        for subscription in subscriptions:
            if subscription is not None:
                with contextlib.suppress(Exception):
                    await subscription.unsubscribe()

    async def _fetch_loop(
        self,
        quit_event: asyncio.Event,
        subscription: Callable[[], JetStreamContext.PullSubscription | None],
        handle: Callable[[Msg], Awaitable[None]],
    ) -> None:
        # `subscription` is looked up each time: ensure_consumer() may have bound a new one.
        while not quit_event.is_set():
            current = subscription()
            if current is None:
                return
            try:
                messages = await current.fetch(1, timeout=self.fetch_timeout)
            except nats.errors.TimeoutError:
                continue
            except (nats.errors.ConnectionClosedError, nats.errors.ConnectionReconnectingError):
                await asyncio.sleep(0.5)
                continue
            except nats.js.errors.APIError as exc:  # e.g. the consumer vanished while the server restarted
                log.warning("fetch failed", stage=self.stage.value, error=str(exc))
                await asyncio.sleep(1)
                with contextlib.suppress(Exception):
                    await self.ensure_consumer()
                continue
            for message in messages:
                await handle(message)

    async def handle(self, msg: Msg) -> None:
        self.counters.in_flight += 1
        try:
            await self._handle(msg)
        except Exception as exc:  # the bus itself failed (e.g. disconnected); redelivery will retry
            log.warning("message left for redelivery", stage=self.stage.value, error=repr(exc))
        finally:
            self.counters.in_flight -= 1

    async def _handle(self, msg: Msg) -> None:
        attempt = msg.metadata.num_delivered
        try:
            request = STAGE_MESSAGES[self.stage].model_validate_json(msg.data)
        except ValidationError as exc:
            await self._refuse(msg, f"malformed {self.stage.value} message: {describe_validation_error(exc)}")
            return
        submission_id = request.submission_id
        state = await get_state(self.js, submission_id)
        if state is None:
            # Only `submit` creates submissions: work for an unknown one is forged or left from a wipe.
            await self._refuse(msg, f"no submission {submission_id} is known (it has no state)")
            return
        if state.stages[self.stage] is StageState.done:
            # Already handed on by an earlier delivery that died before its ack.
            await msg.ack()
            self.counters.skipped += 1
            log.info("stage already done, skipped", stage=self.stage.value, submission_id=submission_id)
            return
        await self._begin(request)
        started = time.perf_counter()
        try:
            handoffs = await self._call_with_heartbeat(msg, request)
            for handoff in handoffs:
                await publish_handoff(self.js, handoff)
        except InvalidMessageError as exc:
            await self._refuse(msg, f"invalid {self.stage.value} message: {exc}")
            await self._restore(submission_id, state.stages[self.stage])
            return
        except PermanentError as exc:
            await self._give_up(msg, request, _describe(exc), attempt)
            return
        except Exception as exc:
            await self._retry_or_give_up(msg, request, exc, attempt)
            return
        await self._finish(submission_id, time.perf_counter() - started)
        await msg.ack_sync()
        self.counters.processed += 1
        log.info("stage done", stage=self.stage.value, submission_id=submission_id, attempt=attempt)

    async def _refuse(self, msg: Msg, reason: str) -> None:
        """Untrusted input that is not work: dead-lettered with the reason, never turned into a record."""
        await self._dead_letter(msg.data, msg.metadata.sequence.stream, reason, msg.metadata.num_delivered)
        await msg.term()
        self.counters.failed += 1
        log.warning("message refused", stage=self.stage.value, reason=reason)

    async def _call_with_heartbeat(self, msg: Msg, request: StageMessage) -> Sequence[Handoff]:
        """Run the handler, telling the server every ack_wait/3 that we are still at it."""
        task = asyncio.ensure_future(self.handler(request))
        interval = max(self.ack_wait / 3, 0.1)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=interval)
                if done:
                    return task.result()
                with contextlib.suppress(Exception):
                    await msg.in_progress()
        finally:
            if not task.done():  # we were cancelled (shutdown): do not leave the handler running
                task.cancel()

    async def _begin(self, request: StageMessage) -> None:
        stage = self.stage

        def running(state: SubmissionState) -> None:
            if state.stages[stage] is not StageState.done:
                state.stages[stage] = StageState.running

        await update_state(self.js, request.submission_id, running)

    async def _restore(self, submission_id: str, before: StageState) -> None:
        """Put the stage back as it was before a refused message marked it running."""
        stage = self.stage

        def restore(state: SubmissionState) -> None:
            if state.stages[stage] is StageState.running:
                state.stages[stage] = before

        await update_state(self.js, submission_id, restore)

    async def _finish(self, submission_id: str, seconds: float) -> None:
        stage = self.stage

        def done(state: SubmissionState) -> None:
            state.stages[stage] = StageState.done
            state.stage_seconds[stage] = round(seconds, 4)
            state.errors.pop(stage, None)

        await update_state(self.js, submission_id, done)

    async def _retry_or_give_up(self, msg: Msg, request: StageMessage, exc: Exception, attempt: int) -> None:
        error = _describe(exc)
        if attempt >= self.max_deliver:
            await self._give_up(msg, request, error, attempt)
            return
        stage = self.stage

        def note(state: SubmissionState) -> None:
            state.errors[stage] = f"attempt {attempt}: {error}"

        await update_state(self.js, request.submission_id, note)
        delay = self.backoff[min(attempt - 1, len(self.backoff) - 1)] if self.backoff else 0
        log.warning("stage failed, will retry", stage=stage.value, attempt=attempt, delay=delay, error=error)
        self.counters.retried += 1
        await msg.nak(delay=delay)

    async def _give_up(self, msg: Msg, request: StageMessage, error: str, attempts: int) -> None:
        await self._reject(msg.data, msg.metadata.sequence.stream, request, error, attempts)
        await msg.term()

    async def handle_exhausted(self, advisory: Msg) -> None:
        """A max-deliveries advisory: give up the work message it names, unless that is gone already."""
        try:
            await self._reject_exhausted(json.loads(advisory.data))
        except Exception as exc:  # e.g. NATS away; the advisory is redelivered after ack_wait
            log.warning("exhausted message left for later", stage=self.stage.value, error=repr(exc))
            return
        await advisory.ack()

    async def _reject_exhausted(self, advisory: dict[str, Any]) -> None:
        sequence, attempts = int(advisory["stream_seq"]), int(advisory.get("deliveries", self.max_deliver))
        try:
            stored = await self.js.get_msg(WORK_STREAM, sequence)
        except nats.js.errors.NotFoundError:
            return  # acked or terminated after all
        data = stored.data or b""
        try:
            request = STAGE_MESSAGES[self.stage].model_validate_json(data)
        except ValidationError:
            await self._dead_letter(data, sequence, "malformed message, deliveries exhausted", attempts)
        else:
            state = await get_state(self.js, request.submission_id)
            if state is None:
                reason = f"no submission {request.submission_id} is known, deliveries exhausted"
                await self._dead_letter(data, sequence, reason, attempts)
            else:
                noted = state.errors.get(self.stage)
                error = noted or "the worker died or stopped answering during every attempt"
                await self._reject(data, sequence, request, error, attempts)
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await self.js.delete_msg(WORK_STREAM, sequence)

    async def _reject(
        self, data: bytes, sequence: int, request: StageMessage, error: str, attempts: int
    ) -> None:
        """Dead-letter the message, mark the stage failed, and still hand on one rejected record."""
        submission_id, source = request.submission_id, request.source
        reason = f"{self.stage.value} failed after {attempts} attempts: {error}"
        await self._dead_letter(data, sequence, reason, attempts)
        if self.stage is not Stage.publish:  # a failing publish stage cannot publish its own rejection
            record = Record.rejected(submission_id, source, [], reason)
            record.provenance.pipeline_version = __version__
            rejected = PublishRequest(submission_id=submission_id, source=source, records=[record])
            await publish_handoff(self.js, Handoff.to(Stage.publish, rejected))
        stage = self.stage

        def failed(state: SubmissionState) -> None:
            state.stages[stage] = StageState.failed
            state.errors[stage] = reason

        await update_state(self.js, submission_id, failed)
        self.counters.failed += 1
        log.error("stage gave up", stage=stage.value, submission_id=submission_id, reason=reason)

    async def _dead_letter(self, data: bytes, sequence: int, reason: str, attempts: int) -> None:
        headers = {ERROR_HEADER: reason[:1000], DELIVERIES_HEADER: str(attempts)}
        # The work message's stream sequence identifies it: a repeated give-up is dropped as duplicate.
        headers[MSG_ID] = f"dead.{WORK_STREAM}.{sequence}"
        await self.js.publish(dead_letter_subject(self.stage), data, headers=headers)

    def stats(self) -> dict[str, int]:
        return vars(self.counters).copy()


def _describe(exc: BaseException) -> str:
    """The exception in one line, as state errors and rejected records give it (secrets masked)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return redact(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


# --- service process -----------------------------------------------------------------------------

HandlersFactory = Callable[
    [JetStreamContext], Mapping[Stage, StageHandler] | Awaitable[Mapping[Stage, StageHandler]]
]


async def add_status_service(
    nc: Client, service_name: str, version: str, workers: Sequence[StageWorker]
) -> nats.micro.Service:
    """`$SRV.PING/INFO/STATS.<name>` answer, plus `<name>.status` with per-stage counters."""

    async def status(request: Request) -> None:
        body = {
            "service": service_name,
            "version": version,
            "stages": {w.stage.value: w.stats() for w in workers},
        }
        await request.respond(json.dumps(body).encode())

    service = await nats.micro.add_service(
        nc, name=service_name, version=version, description=f"selfeval {service_name} stage worker"
    )
    await service.add_endpoint(name="status", subject=f"{service_name}.status", handler=status)
    return service


Connector = Callable[[str], Awaitable[Client]]
"""Opens the process's NATS connection, given the connection name (see `selfeval.bootstrap`)."""


async def serve(
    service_name: str,
    make_handlers: HandlersFactory,
    open_connection: Connector,
    quit_event: asyncio.Event,
    *,
    tuning: WorkerTuning | None = None,
    version: str = __version__,
) -> None:
    """Connect, bind the topology, run a worker per stage and a micro service until `quit_event`."""
    tuning = tuning or get_settings()
    async with contextlib.AsyncExitStack() as stack:
        nc = await unless_quit(open_connection(service_name), quit_event)
        if nc is None:
            log.info("stopped while waiting for NATS", service=service_name)
            return
        stack.push_async_callback(_drain, nc)
        js = nc.jetstream()
        if not await unless_quit(bind_topology(js), quit_event):
            log.info("stopped while waiting for the streams and buckets", service=service_name)
            return
        handlers = make_handlers(js)
        if isinstance(handlers, Awaitable):
            handlers = await handlers
        workers = [
            StageWorker(
                js,
                stage,
                handler,
                max_deliver=tuning.max_deliver,
                backoff=tuning.retry_backoff,
                ack_wait=tuning.ack_wait,
                concurrency=tuning.worker_concurrency,
            )
            for stage, handler in handlers.items()
        ]
        for worker in workers:
            await worker.ensure_consumer()
        service = await add_status_service(nc, service_name, version, workers)
        stack.push_async_callback(service.stop)
        log.info("service ready", service=service_name, stages=[w.stage.value for w in workers])
        await asyncio.gather(*(worker.run(quit_event) for worker in workers))
        log.info("service stopping", service=service_name)
        for worker in workers:
            await worker.stop()


async def unless_quit(waiting: Awaitable[T], quit_event: asyncio.Event) -> T | None:
    """What `waiting` gives, or None if told to quit first: a process waiting for an unreachable server
    (or for streams nobody created yet) must still stop on Ctrl-C/SIGTERM."""
    result = asyncio.ensure_future(waiting)
    quitting = asyncio.ensure_future(quit_event.wait())
    await asyncio.wait({result, quitting}, return_when=asyncio.FIRST_COMPLETED)
    quitting.cancel()
    if result.done():
        return result.result()
    result.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await result
    return None


async def _drain(nc: Client) -> None:
    with contextlib.suppress(Exception):
        await nc.drain()


def install_signal_handlers(quit_event: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, quit_event.set)


def run_service(service_name: str, make_handlers: HandlersFactory, open_connection: Connector) -> int:
    """A worker module's `main()`: serve until SIGINT/SIGTERM; exit status 0, or 2 on refused credentials."""

    async def main() -> None:
        quit_event = asyncio.Event()
        install_signal_handlers(quit_event)
        await serve(service_name, make_handlers, open_connection, quit_event)

    try:
        asyncio.run(main())
    except BusAuthError as exc:
        log.error(str(exc))
        return 2
    return 0
