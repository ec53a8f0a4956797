"""Wiring: turns the settings into the real adapters (bucket, outbox, NATS), in one place.

Every process (the services, the watcher, the API, the CLI) builds what it needs through here, so
"local folder or S3" and "embedded or external NATS" are decided once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nats.aio.client import Client

from selfeval import credentials
from selfeval.bus.connection import connect
from selfeval.inbox import Inbox, LocalInbox, S3Inbox
from selfeval.outbox import LocalOutbox, Outbox
from selfeval.permissions import Role, inbox_prefix
from selfeval.settings import Settings

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
ENDPOINTS_FILE = "endpoints.json"


def s3_client(settings: Settings) -> Any:
    import boto3  # only needed when a bucket is configured

    return boto3.client("s3", endpoint_url=settings.s3_endpoint_url)


def make_inbox(settings: Settings) -> Inbox:
    if settings.s3_bucket:
        return S3Inbox(s3_client(settings), settings.s3_bucket, settings.s3_prefix)
    return LocalInbox(settings.inbox_path)


def make_outbox(settings: Settings) -> Outbox:
    if settings.s3_bucket:
        from selfeval.outbox import S3Outbox

        return S3Outbox(settings.s3_bucket, settings.s3_outbox_prefix, s3_client(settings))
    return LocalOutbox(settings.outbox_path)


def nats_auth(settings: Settings, role: Role) -> dict[str, Any]:
    """`nats.connect` keywords for a process of `role`: the configured credentials, else the ones
    `selfeval up` generated for the role under SELFEVAL_HOME; replies on the role's own inbox prefix."""
    auth: dict[str, Any] = {"inbox_prefix": inbox_prefix(role)}
    if settings.nats_user or settings.nats_creds:
        if settings.nats_user:
            auth["user"] = settings.nats_user
        if settings.nats_password:
            auth["password"] = settings.nats_password.get_secret_value()
        if settings.nats_creds:
            auth["user_credentials"] = str(settings.nats_creds)
    elif (generated := credentials.load(settings.home, role)) is not None:
        auth.update(user=generated.user, password=generated.password)
    if settings.nats_tls_ca:
        import ssl

        auth["tls"] = ssl.create_default_context(cafile=str(settings.nats_tls_ca))
    return auth


def nats_url(settings: Settings) -> str:
    """The configured NATS, else the one `selfeval up` started (it notes its URLs under HOME)."""
    return settings.nats_url or read_endpoints(settings.home).get("nats_url") or DEFAULT_NATS_URL


def prefect_api_url(settings: Settings) -> str | None:
    return settings.prefect_api_url or read_endpoints(settings.home).get("prefect_api_url")


async def connect_nats(
    settings: Settings, name: str, role: Role, initial_timeout: float | None = None
) -> Client:
    """The process's connection, named `name`, as `role` (see `selfeval.permissions`)."""
    auth = nats_auth(settings, role)
    return await connect(nats_url(settings), name, initial_timeout=initial_timeout, **auth)


def write_endpoints(home: Path, endpoints: dict[str, str]) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / ENDPOINTS_FILE).write_text(json.dumps(endpoints, indent=2) + "\n")


def read_endpoints(home: Path) -> dict[str, str]:
    try:
        data = json.loads((home / ENDPOINTS_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return {key: value for key, value in data.items() if isinstance(value, str)}


def clear_endpoints(home: Path) -> None:
    (home / ENDPOINTS_FILE).unlink(missing_ok=True)
