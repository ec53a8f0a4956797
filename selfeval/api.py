"""The HTTP API: thin routes over the same bucket, state and outbox the services use.

Uploads go into the watched bucket, so every submission takes the one path through the watcher
(and gets its Prefect flow run); the API only reads state and records back.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, Header, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from nats.aio.client import Client
from nats.js import JetStreamContext
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from pydantic import BaseModel

from selfeval.bus import get_state
from selfeval.contract import Record, Status
from selfeval.contract.messages import BUCKET_EVENTS_SUBJECT, SubmissionState
from selfeval.inbox import Inbox
from selfeval.storage import Outbox

UPLOAD_PREFIX = "uploads/"
# The scans we read, by their first bytes; anything else is refused before it reaches the bucket.
_MAGIC = {
    b"%PDF-": "application/pdf",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"II*\x00": "image/tiff",
    b"MM\x00*": "image/tiff",
}
_UNSAFE = re.compile(r"[^\w.\-]+")
# Room for the multipart framing around an upload of the largest accepted size.
MULTIPART_SLACK = 64 * 1024


def sniff_content_type(head: bytes) -> str | None:
    return next((kind for magic, kind in _MAGIC.items() if head.startswith(magic)), None)


def safe_object_name(filename: str | None) -> str:
    """A file name from a client, reduced to something harmless as a bucket key or a path part."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = _UNSAFE.sub("_", name).strip("._") or "upload"
    return name[-120:]


class SubmissionAccepted(BaseModel):
    submission_id: str
    source: str
    content_type: str
    size: int


@dataclass
class ApiContext:
    inbox: Inbox
    outbox: Outbox
    prefect_api_url: str | None
    token: str | None = field(repr=False)  # never printed, not even in a traceback
    max_upload_bytes: int
    connect: Callable[[], Awaitable[Client]]
    nc: Client | None = None

    @property
    def bus(self) -> Client:
        if self.nc is None:
            raise HTTPException(503, "not connected to NATS yet")
        return self.nc

    @property
    def js(self) -> JetStreamContext:
        return self.bus.jetstream()


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.uploads = Counter(
            "selfeval_api_uploads", "Scans accepted by POST /submissions", registry=self.registry
        )
        self.refused = Counter(
            "selfeval_api_uploads_refused", "Uploads refused", ["reason"], registry=self.registry
        )
        self.bucket_events = Counter(
            "selfeval_api_bucket_events", "S3 notifications received", registry=self.registry
        )


def create_app(context: ApiContext) -> FastAPI:
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        context.nc = await context.connect()
        try:
            yield
        finally:
            await context.nc.drain()

    app = FastAPI(
        title="selfeval",
        description="Scanned 财政项目支出绩效自评表 in, verified JSON records out.",
        lifespan=lifespan,
    )

    async def authorised(authorization: Annotated[str | None, Header()] = None) -> None:
        if context.token is None:
            return
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(), context.token.encode()):
            raise HTTPException(401, "a valid 'Authorization: Bearer <token>' header is required")

    guarded = [Depends(authorised)]

    @app.middleware("http")
    async def refuse_oversized_bodies(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Refuse a body that says it is too big before reading (and spooling) any of it."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > context.max_upload_bytes + MULTIPART_SLACK:
            metrics.refused.labels("too_large").inc()
            detail = f"upload larger than {context.max_upload_bytes} bytes"
            return JSONResponse({"detail": detail}, status_code=413)
        return await call_next(request)

    @app.post("/submissions", status_code=202, dependencies=guarded, response_model=SubmissionAccepted)
    async def submit_scan(file: UploadFile) -> SubmissionAccepted:
        """Upload a scan (PDF, PNG, JPEG or TIFF); returns the submission id (SHA-256 of its bytes)."""
        data = await file.read(context.max_upload_bytes + 1)
        if len(data) > context.max_upload_bytes:
            metrics.refused.labels("too_large").inc()
            raise HTTPException(413, f"upload larger than {context.max_upload_bytes} bytes")
        if not data:
            metrics.refused.labels("empty").inc()
            raise HTTPException(400, "empty upload")
        content_type = sniff_content_type(data[:8])
        if content_type is None:
            metrics.refused.labels("content_type").inc()
            raise HTTPException(415, "not a PDF, PNG, JPEG or TIFF file")
        submission_id = hashlib.sha256(data).hexdigest()
        key = f"{UPLOAD_PREFIX}{submission_id[:12]}-{safe_object_name(file.filename)}"
        await asyncio.to_thread(context.inbox.put, key, data)
        await context.bus.publish(BUCKET_EVENTS_SUBJECT, key.encode())
        metrics.uploads.inc()
        return SubmissionAccepted(
            submission_id=submission_id, source=key, content_type=content_type, size=len(data)
        )

    @app.get("/submissions/{submission_id}", dependencies=guarded, response_model=SubmissionState)
    async def submission_state(submission_id: str) -> SubmissionState:
        """Where a submission is: the state of each stage, errors, and its records once published."""
        if not re.fullmatch(r"[0-9a-f]{64}", submission_id):
            raise HTTPException(400, "a submission id is the 64 hex digits of its SHA-256")
        state = await get_state(context.js, submission_id)
        if state is None:
            raise HTTPException(404, "no such submission (yet: the watcher may not have picked it up)")
        return state

    @app.get("/records/{record_id}", dependencies=guarded)
    async def record(record_id: str) -> Response:
        """A published record, as the JSON downstream consumers receive."""
        if not re.fullmatch(r"[0-9a-f]{8,64}", record_id):
            raise HTTPException(400, "a record id is hexadecimal")
        for status in Status:
            found: Record | None = await asyncio.to_thread(context.outbox.read_record, record_id, status)
            if found is not None:
                return Response(found.model_dump_json(indent=2), media_type="application/json")
        raise HTTPException(404, "no such record")

    @app.post("/events/s3", dependencies=guarded)
    async def bucket_event(request: Request) -> dict[str, Any]:
        """S3-style bucket notifications (AWS, MinIO, SeaweedFS): wake the watcher at once."""
        try:
            body = await request.json()
        except ValueError:
            raise HTTPException(400, "body must be a JSON S3 event notification") from None
        keys = [
            entry.get("s3", {}).get("object", {}).get("key")
            for entry in (body.get("Records") or [] if isinstance(body, dict) else [])
            if isinstance(entry, dict)
        ]
        keys = [key for key in keys if isinstance(key, str)]
        metrics.bucket_events.inc()
        await context.bus.publish(BUCKET_EVENTS_SUBJECT, b"\n".join(k.encode() for k in keys))
        return {"accepted": keys}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """NATS and Prefect are reachable."""
        nats_ok = context.nc is not None and context.nc.is_connected
        prefect_ok = await _prefect_healthy(context.prefect_api_url)
        ready = nats_ok and prefect_ok in (True, None)
        body = {
            "nats": "ok" if nats_ok else "unreachable",
            "prefect": {True: "ok", False: "unreachable", None: "not configured"}[prefect_ok],
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        """Prometheus metrics."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


async def _prefect_healthy(api_url: str | None) -> bool | None:
    if not api_url:
        return None
    try:
        async with httpx.AsyncClient(timeout=3) as client:
            response = await client.get(api_url.rstrip("/") + "/health")
        return response.status_code == 200
    except httpx.HTTPError:
        return False
