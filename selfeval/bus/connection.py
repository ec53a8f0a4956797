"""One NATS client per process, reconnecting forever; wrong credentials fail at once, clearly.

`connect` is what every process calls (through `selfeval.bootstrap.connect_nats`, which picks the
credentials of its role); `BusAuthError` is how a refusal reaches the runner, which exits with status 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import nats.errors
from nats.aio.client import Client

from selfeval.logs import get_logger

log = get_logger("selfeval.bus")


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


async def drain(nc: Client) -> None:
    """Close after in-flight messages are handled; a connection already gone is no error."""
    with contextlib.suppress(Exception):
        await nc.drain()
