"""`StageWorker`: a durable pull consumer per stage that runs a handler, hands its results on,
retries with backoff and, after the last attempt, dead-letters the message and still hands on one
rejected record (built by the `RejectionFactory` it is given, see `selfeval.intake`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from pydantic import ValidationError

from selfeval.bus.handoff import (
    MSG_ID,
    STAGE_MESSAGES,
    Handoff,
    InvalidMessageError,
    PermanentError,
    StageHandler,
    StageMessage,
    publish_handoff,
)
from selfeval.bus.state import get_state, update_state
from selfeval.contract.messages import (
    EXHAUSTED_STREAM,
    WORK_STREAM,
    Stage,
    StageState,
    SubmissionState,
    dead_letter_subject,
    durable_name,
    exhausted_durable_name,
    exhausted_subject,
    stage_subject,
)
from selfeval.logs import get_logger
from selfeval.redaction import redact
from selfeval.validation import describe_validation_error

log = get_logger("selfeval.bus")


ERROR_HEADER = "Selfeval-Error"
DELIVERIES_HEADER = "Selfeval-Deliveries"
RejectionFactory = Callable[[StageMessage, str], Handoff]
"""The hand-off of a submission's rejected record, given its request and the reason (`selfeval.intake`)."""


class WorkerTuning(Protocol):
    """How stage workers pace themselves; `selfeval.settings.Settings` provides these fields."""

    ack_wait: float
    max_deliver: int
    retry_backoff: list[float]
    worker_concurrency: int


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
    reject_with: RejectionFactory | None = None
    """Builds the rejected record handed on when the stage gives up (None: no record, as for publish)."""
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
            await self._give_up(msg, request, describe_error(exc), attempt)
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
        error = describe_error(exc)
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
        submission_id = request.submission_id
        reason = f"{self.stage.value} failed after {attempts} attempts: {error}"
        await self._dead_letter(data, sequence, reason, attempts)
        # A failing publish stage cannot publish its own rejection.
        if self.stage is not Stage.publish and self.reject_with is not None:
            await publish_handoff(self.js, self.reject_with(request, reason))
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


def describe_error(exc: BaseException) -> str:
    """The exception in one line, as state errors and rejected records give it (secrets masked)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return redact(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)
