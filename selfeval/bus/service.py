"""A service process: stage workers and a `nats.micro` status service living until SIGTERM.

`run_service` is every part's `main()`: it maps refused credentials to exit status 2 (a
configuration error no restart can mend) and a clean stop to 0. The connection itself comes from
the caller (`selfeval.bootstrap.connect_nats`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

import nats.micro
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.micro.request import Request

from selfeval import __version__
from selfeval.bus.connection import BusAuthError, drain
from selfeval.bus.handoff import StageHandler
from selfeval.bus.stage_worker import RejectionFactory, StageWorker, WorkerTuning
from selfeval.bus.topology import bind_topology
from selfeval.contract.messages import Stage
from selfeval.logs import get_logger
from selfeval.settings import get_settings

log = get_logger("selfeval.bus")
T = TypeVar("T")


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
    reject_with: RejectionFactory,
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
        stack.push_async_callback(drain, nc)
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
                reject_with,
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


def install_signal_handlers(quit_event: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, quit_event.set)


def run_service(
    service_name: str,
    make_handlers: HandlersFactory,
    open_connection: Connector,
    reject_with: RejectionFactory,
) -> int:
    """A stage worker process's `main()`: serve until SIGINT/SIGTERM (see `run_until_stopped`)."""

    async def main(quit_event: asyncio.Event) -> None:
        await serve(service_name, make_handlers, open_connection, quit_event, reject_with=reject_with)

    return run_until_stopped(main)


CONFIG_ERROR_STATUS = 2
"""Exit status of a process that cannot work as configured (refused credentials, missing models)."""


def run_until_stopped(main: Callable[[asyncio.Event], Awaitable[None]]) -> int:
    """Every part's process: run `main` until SIGINT/SIGTERM sets its quit event; exit status 0, or
    CONFIG_ERROR_STATUS with one line when NATS refuses the credentials (no restart can mend that)."""

    async def with_signals() -> None:
        quit_event = asyncio.Event()
        install_signal_handlers(quit_event)
        await main(quit_event)

    try:
        asyncio.run(with_signals())
    except BusAuthError as exc:
        log.error(str(exc))
        return CONFIG_ERROR_STATUS
    return 0
