"""The streams and buckets of `selfeval.contract.messages`.

`ensure_topology` creates them idempotently (the admin's job: `selfeval up`, `selfeval topology`);
`bind_topology` is what every part does instead, waiting until they exist (parts may not create or
change them, see `selfeval.permissions`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext, api

from selfeval.bus.connection import connect, drain
from selfeval.contract.messages import (
    DEAD_LETTER_STREAM,
    EXHAUSTED_STREAM,
    MAX_DELIVERIES_ADVISORY,
    RECORDS_STREAM,
    RECORDS_SUBJECTS,
    REVIEWS_BUCKET,
    REVIEWS_STREAM,
    SCANS_BUCKET,
    SCANS_STREAM,
    STATE_BUCKET,
    STATE_STREAM,
    WORK_STREAM,
)
from selfeval.logs import get_logger

log = get_logger("selfeval.bus")


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
    REVIEWS_STREAM,
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
    """The four streams and three buckets; safe to call at every start (the admin's job)."""
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
    await js.create_key_value(
        api.KeyValueConfig(bucket=REVIEWS_BUCKET, history=1, storage=api.StorageType.FILE, replicas=replicas)
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
        await drain(nc)
