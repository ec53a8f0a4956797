"""The submission-state store: one `SubmissionState` per submission in a KV bucket.

Writes are compare-and-set on the KV revision (`update_state` retries on conflict); readers get one
state (`get_state`), all of them once (`current_states`), all of them and then every change
(`watch_states`), or just which submission was written (`follow_state_writes`, through the KV API's
watch), which is how flow runs are woken instead of polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from selfeval.contract.messages import STATE_BUCKET, SubmissionState


async def _states(js: JetStreamContext) -> KeyValue:
    return await js.key_value(STATE_BUCKET)


async def create_state(js: JetStreamContext, state: SubmissionState) -> bool:
    """Store a new submission's state; False when the submission has one already."""
    kv = await _states(js)
    try:
        await kv.create(state.submission_id, state.model_dump_json().encode())
    except nats.js.errors.KeyWrongLastSequenceError:
        return False
    return True


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


@dataclass
class StateWriteFeed:
    """A running feed of state writes (see `follow_state_writes`); `stop` ends it."""

    _watcher: KeyValue.KeyWatcher
    _pump: asyncio.Task[None]

    async def stop(self) -> None:
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._pump
        with contextlib.suppress(Exception):
            await self._watcher.stop()


async def follow_state_writes(js: JetStreamContext, written: Callable[[str], None]) -> StateWriteFeed:
    """Call `written(submission_id)` whenever a submission's state is written, through the KV API's
    watch (keys only, no values). The watch first delivers every stored key once: those calls are
    harmless, a woken follower only reads its state again."""
    kv = await _states(js)
    watcher = await kv.watchall(ignore_deletes=True, meta_only=True)

    async def pump() -> None:
        async for entry in watcher:
            if entry is not None:  # None marks the end of the stored keys
                written(entry.key)

    return StateWriteFeed(watcher, asyncio.create_task(pump()))
