"""The HTTP API: thin routes over the same bucket, state and outbox the services use.

Uploads go into the watched bucket, so every submission takes the one path through the watcher
(and gets its Prefect flow run); the API only reads state and records back.

Every route but /healthz, /readyz and /metrics (open by design: they say nothing about submissions)
and the OpenAPI docs (they describe the API, not its data) needs the bearer token, checked
before a byte of the body is read; a body is refused (413) as soon as it grows past its limit, and
credentials in a URL are refused (400), since URLs end up in access logs.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl

import httpx
import nats.js.errors
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from nats.aio.client import Client
from nats.js import JetStreamContext
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from selfeval.bus.state import get_state
from selfeval.contract import Record, defaults, is_record_id
from selfeval.contract.messages import (
    BUCKET_EVENTS_SUBJECT,
    SCANS_BUCKET,
    SUBMISSION_ID_PATTERN,
    SubmissionState,
    page_image_object,
)
from selfeval.inbox import Inbox, inbox_key
from selfeval.logs import get_logger
from selfeval.outbox import Outbox, current_record
from selfeval.page_boxes import draw_fields
from selfeval.review.claims import Claims
from selfeval.review.desk import Announce, ReviewDesk
from selfeval.review.pages import review_pages
from selfeval.review.reviewers import NO_REVIEWERS, ReviewerDirectory
from selfeval.review.routes import review_router
from selfeval.scan_files import sniff_content_type
from selfeval.uploads import (
    FILE_FIELD,
    UploadRefusedError,
    declared_too_large,
    read_bounded,
    spooled_upload,
    too_large,
)
from selfeval.validation import describe_validation_error

log = get_logger("selfeval.api")

UPLOAD_PREFIX = "uploads/"
_UNSAFE = re.compile(r"[^\w.\-]+")
MAX_EVENT_BYTES = 1024 * 1024
"""A bucket notification is a few kilobytes; a bigger body is not one."""
CREDENTIAL_PARAMETERS = {"token", "access_token", "api_key", "apikey", "key", "password", "secret", "auth"}
"""Query parameters that would carry a credential in the URL, where access logs and proxies keep it."""
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FILE_FIELD],
                    "properties": {FILE_FIELD: {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}
"""The upload is parsed as it streams in, so FastAPI does not see its form; the docs still show it."""


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


class S3EventObject(BaseModel):
    key: str


class S3EventEntity(BaseModel):
    object: S3EventObject


class S3EventRecord(BaseModel):
    s3: S3EventEntity


class S3Event(BaseModel):
    """An S3-style bucket notification (AWS, MinIO, SeaweedFS): only the keys matter here."""

    model_config = ConfigDict(populate_by_name=True)

    records: list[S3EventRecord] = Field(default_factory=list, alias="Records")


@dataclass
class ApiContext:
    inbox: Inbox
    outbox: Outbox
    prefect_api_url: str | None
    token: str | None = field(repr=False)  # never printed, not even in a traceback
    max_upload_bytes: int
    connect: Callable[[], Awaitable[Client]]
    nc: Client | None = None
    spool_dir: Path | None = None
    """Where uploads are received while they stream in (None: the system's temp folder, TMPDIR)."""
    reviewers: ReviewerDirectory = NO_REVIEWERS
    claim_seconds: float = 900.0
    announce: Announce | None = None
    """Told of every reviewed record (the composition root passes the Prefect announcement)."""
    min_confidence: float = defaults.MIN_CONFIDENCE
    """Below it a field is shown as doubtful: boxed amber on a page image, marked on the review page."""
    desk: ReviewDesk | None = None

    @property
    def bus(self) -> Client:
        if self.nc is None:
            raise HTTPException(503, "not connected to NATS yet")
        return self.nc

    @property
    def js(self) -> JetStreamContext:
        return self.bus.jetstream()

    async def stored_page(self, submission_id: str, page: int) -> bytes | None:
        """The page image the OCR kept for a submission's page (PNG), or None."""
        try:
            scans = await self.js.object_store(SCANS_BUCKET)
            found = await scans.get(page_image_object(submission_id, page))
        except (nats.js.errors.ObjectNotFoundError, nats.js.errors.ObjectDeletedError):
            return None
        return found.data or b""

    def review_desk(self) -> ReviewDesk:
        if self.desk is None:
            self.desk = ReviewDesk(self.js, self.outbox, Claims(self.js, self.claim_seconds), self.announce)
        return self.desk


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.uploads = Counter(
            "selfeval_api_uploads", "Scans accepted by POST /submissions", registry=self.registry
        )
        self.refused = Counter(
            "selfeval_api_uploads_refused",
            "Uploads (and requests with credentials in the URL) refused, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.bucket_events = Counter(
            "selfeval_api_bucket_events", "S3 notifications received", registry=self.registry
        )


class RequestGuard:
    """Refuses, before the app reads anything, a body declared too big (413) and credentials in the
    query string (400). Pure ASGI, so the body is not touched."""

    def __init__(self, app: ASGIApp, max_upload_bytes: int, metrics: Metrics) -> None:
        self.app, self.max_upload_bytes, self.metrics = app, max_upload_bytes, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self._refusal(scope) if scope["type"] == "http" else None
        if refusal is not None:
            status, detail = refusal
            await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        query = scope.get("query_string", b"").decode("latin-1")
        named = {name.lower() for name, _ in parse_qsl(query, keep_blank_values=True)}
        if named & CREDENTIAL_PARAMETERS:
            self.metrics.refused.labels("credentials_in_url").inc()
            return 400, "credentials go in the 'Authorization: Bearer <token>' header, never in the URL"
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length", b"").decode("latin-1")
        if declared_too_large(length, self.max_upload_bytes):
            self.metrics.refused.labels("too_large").inc()
            return 413, too_large(self.max_upload_bytes).detail
        return None


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

    app.include_router(review_router(context.review_desk, context.reviewers))
    app.include_router(
        review_pages(context.review_desk, context.reviewers, context.min_confidence, context.stored_page)
    )
    app.add_middleware(RequestGuard, max_upload_bytes=context.max_upload_bytes, metrics=metrics)

    @app.post(
        "/submissions",
        status_code=202,
        dependencies=guarded,
        response_model=SubmissionAccepted,
        openapi_extra=UPLOAD_BODY,
    )
    async def submit_scan(request: Request) -> SubmissionAccepted | Response:
        """Upload a scan (PDF, PNG, JPEG or TIFF) as the one part named `file` of a multipart form;
        returns the submission id (SHA-256 of its bytes)."""
        content_type = request.headers.get("content-type")
        try:
            async with spooled_upload(
                request.stream(), content_type, context.max_upload_bytes, context.spool_dir
            ) as upload:
                if not upload.size:
                    raise UploadRefusedError(400, "empty upload", "empty")
                kind = sniff_content_type(upload.head)
                if kind is None:
                    raise UploadRefusedError(415, "not a PDF, PNG, JPEG or TIFF file", "content_type")
                key = inbox_key(upload.sha256, safe_object_name(upload.filename), UPLOAD_PREFIX)
                await asyncio.to_thread(context.inbox.put_file, key, upload.path)
        except UploadRefusedError as refusal:
            metrics.refused.labels(refusal.reason).inc()
            raise HTTPException(refusal.status, refusal.detail) from None
        except ClientDisconnect:
            metrics.refused.labels("abandoned").inc()
            log.info("upload abandoned by the client before it was complete")
            return Response(status_code=400)  # nobody is left to read it
        await context.bus.publish(BUCKET_EVENTS_SUBJECT, key.encode())
        metrics.uploads.inc()
        return SubmissionAccepted(
            submission_id=upload.sha256, source=key, content_type=kind, size=upload.size
        )

    @app.get("/submissions/{submission_id}", dependencies=guarded, response_model=SubmissionState)
    async def submission_state(submission_id: str) -> SubmissionState:
        """Where a submission is: the state of each stage, errors, and its records once published."""
        if not re.fullmatch(SUBMISSION_ID_PATTERN, submission_id):
            raise HTTPException(400, "a submission id is the 64 hex digits of its SHA-256")
        state = await get_state(context.js, submission_id)
        if state is None:
            raise HTTPException(404, "no such submission (yet: the watcher may not have picked it up)")
        return state

    @app.get("/records/{record_id}", dependencies=guarded)
    async def record(record_id: str) -> Response:
        """A published record, as the JSON downstream consumers receive."""
        if not is_record_id(record_id):
            raise HTTPException(400, "a record id is 24 hexadecimal digits")
        found = await asyncio.to_thread(current_record, context.outbox, record_id)
        if found is None:
            raise HTTPException(404, "no such record")
        return Response(found.model_dump_json(indent=2), media_type="application/json")

    @app.get(
        "/submissions/{submission_id}/pages/{page}.png",
        dependencies=guarded,
        response_class=Response,
        responses={200: {"content": {"image/png": {}}, "description": "the page as a PNG"}},
    )
    async def page_image(submission_id: str, page: str, boxes: bool = False) -> Response:
        """Page `page` (1-based) of a submission, upright, as the OCR read it (grey, at most 150 dpi).
        With `?boxes=1` the fields of the submission's records are boxed on it: red where an
        error-level check does not pass, amber where the value was read with low confidence."""
        if not re.fullmatch(SUBMISSION_ID_PATTERN, submission_id):
            raise HTTPException(400, "a submission id is the 64 hex digits of its SHA-256")
        if not re.fullmatch(r"[1-9][0-9]{0,5}", page):
            raise HTTPException(400, "a page number is a whole number from 1")
        png = await context.stored_page(submission_id, int(page))
        if png is None:
            raise HTTPException(404, "no such page (yet: it is kept once the OCR has read it)")
        if boxes:
            records = await _records_of(submission_id)
            try:
                png = await asyncio.to_thread(draw_fields, png, records, int(page), context.min_confidence)
            except ValueError as exc:
                raise HTTPException(500, f"the kept page cannot be drawn on: {exc}") from None
        return Response(png, media_type="image/png")

    async def _records_of(submission_id: str) -> list[Record]:
        """The submission's published records, wherever in the outbox they are now."""
        state = await get_state(context.js, submission_id)
        records = []
        for record_id in state.record_ids if state else []:
            found = await asyncio.to_thread(current_record, context.outbox, record_id)
            if found is not None:
                records.append(found)
        return records

    @app.post("/events/s3", dependencies=guarded)
    async def bucket_event(request: Request) -> dict[str, Any]:
        """S3-style bucket notifications (AWS, MinIO, SeaweedFS): wake the watcher at once."""
        try:
            body = await read_bounded(request.stream(), MAX_EVENT_BYTES)
            event = S3Event.model_validate(json.loads(body))
        except UploadRefusedError as refusal:
            raise HTTPException(refusal.status, refusal.detail) from None
        except ValueError as exc:  # not JSON, or JSON of another shape (ValidationError is one)
            detail = (
                describe_validation_error(exc, "body") if isinstance(exc, ValidationError) else "not JSON"
            )
            raise HTTPException(400, f"not an S3 event notification: {detail}") from None
        keys = [entry.s3.object.key for entry in event.records]
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
