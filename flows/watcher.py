"""The bucket watcher: notices new objects, submits each once, and starts a flow run to follow it.

It polls the inbox every few seconds and also wakes at once on `selfeval.events.bucket` (the API
publishes there when a store calls its S3-notification webhook). An object is read only once its
listing has settled; where the inbox can show files still being written (a local folder), a settled
file must also be complete by its own structure (`selfeval.scan_files`), else it waits for a much
longer quiet time, so a copy that pauses half-way is not read half-written. The submission id is the
SHA-256 of the bytes, so a re-dropped or renamed identical file is recognised and gives no second
record. Objects that arrived while the system was down are simply found by the first poll.

Faults: when the bucket (or NATS) is unreachable the poll backs off (doubling up to 30 s) and catches
up when it is back; every RECONCILE_SECONDS it re-queues submissions whose OCR work was lost between
the state write and the publish (`requeue_lost_submissions`); a flow run that Prefect lost (server
away while it ran) is run again until Prefect holds its final state, and the lost run is marked
Crashed, so each submission ends with one finished flow run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from uuid import UUID

import httpx
from nats.aio.client import Client
from nats.js import JetStreamContext
from prefect import flow, tags
from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError
from prefect.states import State

from flows.outcomes import submission_tag
from flows.submission import follow_submission, supersede_lost_runs
from selfeval.contract.messages import BUCKET_EVENTS_SUBJECT
from selfeval.inbox import Inbox, InboxObject, StableObjects
from selfeval.intake import requeue_lost_submissions, submit
from selfeval.logs import get_logger
from selfeval.scan_files import looks_complete

log = get_logger("selfeval.watcher")

RECONCILE_SECONDS = 15.0
MAX_POLL_BACKOFF = 30.0
MAX_FOLLOW_BACKOFF = 30.0


def lost_contact(exc: BaseException | None) -> bool:
    """Whether `exc` came from talking to the Prefect server (or its concurrency slots) rather than
    from the submission: such a run failed for want of Prefect, not for anything about the form."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(
            exc, (httpx.TransportError, ConnectionError, TimeoutError, ConcurrencySlotAcquisitionError)
        ):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


async def untracked_reason(state: State) -> str | None:
    """Why a run's final state does not stand for the submission's outcome (None: it does).

    A run fails for the submission's sake only when the services gave up on a stage (or a stage ran
    out of time); a run that failed because the Prefect server was away while it ran is run again."""
    if state.is_crashed():
        return "the run crashed"
    if not state.is_failed():
        return None
    try:
        cause = await state.aresult(raise_on_failure=False)
    except Exception as exc:  # the failure itself cannot be read back: the run was not tracked
        return f"the run's failure cannot be read: {exc!r}"
    if isinstance(cause, BaseException) and lost_contact(cause):
        return f"the run failed while the Prefect server was away: {cause!r}"
    return None


async def follow_until_reported(submission_id: str, source: str) -> None:
    """Run the submission's flow until Prefect holds its final state (re-running it while Prefect is away)."""
    failures, untracked = 0, list[UUID | None]()
    while True:
        try:
            with tags(submission_tag(submission_id)):  # the same tag as the runs of its reviews
                state = await follow_submission(submission_id, source, return_state=True)
        except Exception as exc:  # creating or reporting the run failed: the Prefect API is unreachable
            state, error = None, repr(exc)
        else:
            error = await untracked_reason(state)
        if state is not None and error is None:
            current = state.state_details.flow_run_id
            await supersede_lost_runs(submission_id, source, current, untracked)
            return
        if state is not None:  # it ended, not for the submission's sake: the run that reports supersedes it
            untracked.append(state.state_details.flow_run_id)
        failures += 1
        delay = min(MAX_FOLLOW_BACKOFF, 2.0**failures)
        log.warning(
            "flow run not tracked; running it again", submission_id=submission_id, error=error, delay=delay
        )
        await asyncio.sleep(delay)


@dataclass
class BucketWatcher:
    inbox: Inbox
    js: JetStreamContext
    settle_seconds: float = 1.0
    poll_seconds: float = 2.0
    incomplete_seconds: float = 60.0
    _stable: StableObjects = field(init=False)
    _handled: dict[str, str] = field(default_factory=dict, init=False)
    _followers: set[asyncio.Task[object]] = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        self._stable = StableObjects(self.settle_seconds, self.incomplete_seconds)

    async def poll_once(self) -> list[str]:
        """Submit what is new, settled and complete; returns the ids of submissions this poll started."""
        objects = await asyncio.to_thread(self.inbox.list)
        started = []
        for obj in self._stable.settled(objects):
            if self._handled.get(obj.key) == obj.version:
                continue
            data = await self._read(obj)
            if data is not None and self.inbox.shows_partial_writes and self._unfinished(obj, data):
                continue  # looked at again once it changes, or once the long quiet is over
            if data is not None and (submission_id := await self._submit(obj, data)):
                started.append(submission_id)
            self._handled[obj.key] = obj.version
        return started

    async def _read(self, obj: InboxObject) -> bytes | None:
        try:
            return await asyncio.to_thread(self.inbox.read, obj.key)
        except (OSError, ValueError) as exc:
            log.warning("cannot read object", key=obj.key, error=str(exc))
            return None

    def _unfinished(self, obj: InboxObject, data: bytes) -> bool:
        """A file that is not complete by its own structure (or of a type that cannot tell) may still be
        being copied in: it waits until it has been unchanged for `incomplete_seconds`."""
        complete = looks_complete(data)
        if complete:
            return False
        told = self._stable.is_held(obj)
        waiting = self._stable.hold(obj)
        if waiting and not told:
            why = "it is cut short" if complete is False else "its type does not say where it ends"
            log.info("waiting for the rest of a file", key=obj.key, why=why, quiet=self.incomplete_seconds)
        return waiting

    async def _submit(self, obj: InboxObject, data: bytes) -> str | None:
        state, is_new = await submit(self.js, data, obj.key)
        if not is_new:
            log.info("already submitted", key=obj.key, submission_id=state.submission_id, first=state.source)
            return None
        log.info("submitted", key=obj.key, submission_id=state.submission_id, size=len(data))
        self.start_follower(state.submission_id, obj.key)
        return state.submission_id

    def start_follower(self, submission_id: str, source: str) -> None:
        follower = asyncio.create_task(follow_until_reported(submission_id, source))
        self._followers.add(follower)
        follower.add_done_callback(self._followers.discard)

    async def run(self, nc: Client, quit_event: asyncio.Event) -> None:
        """Poll until told to quit; a bucket event wakes the loop at once."""
        wake = asyncio.Event()

        async def on_event(_msg: object) -> None:
            wake.set()

        subscription = await nc.subscribe(BUCKET_EVENTS_SUBJECT, cb=on_event)
        log.info("watching", inbox=self.inbox.describe())
        failures, reconciled_at = 0, time.monotonic()
        try:
            while not quit_event.is_set():
                try:
                    await self.poll_once()
                    failures = 0
                except Exception as exc:
                    # Back off and catch up when it is back (the next successful poll sees everything).
                    failures += 1
                    log.warning("poll failed; backing off", error=str(exc) or repr(exc), failures=failures)
                if time.monotonic() - reconciled_at > RECONCILE_SECONDS:
                    reconciled_at = time.monotonic()
                    await self._requeue_lost()
                wake.clear()
                delay = min(MAX_POLL_BACKOFF, self.poll_seconds * 2**failures)
                settling = self._stable.next_settle_in()
                if not failures and settling is not None:
                    delay = min(delay, settling + 0.05)  # look again as soon as a new object has settled
                waiters = [asyncio.create_task(wake.wait()), asyncio.create_task(quit_event.wait())]
                await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()
        finally:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
            if self._followers:
                await asyncio.wait(self._followers, timeout=5)

    async def _requeue_lost(self) -> None:
        try:
            await requeue_lost_submissions(self.js)
        except Exception as exc:
            log.warning("re-queue check failed", error=str(exc) or repr(exc))


@dataclass
class WatcherRuntime:
    """The live objects the watcher flow runs with (set once by the watcher process)."""

    watcher: BucketWatcher
    nc: Client
    quit_event: asyncio.Event


_runtime: WatcherRuntime | None = None


def configure(runtime: WatcherRuntime) -> None:
    global _runtime
    _runtime = runtime


@flow(name="bucket-watcher", flow_run_name="watch {inbox}")
async def watch_bucket(inbox: str) -> None:
    """The long-running watcher, visible in the Prefect UI; each submission gets its own flow run."""
    if _runtime is None:
        raise RuntimeError("flows.watcher.configure() was not called")
    await _runtime.watcher.run(_runtime.nc, _runtime.quit_event)
