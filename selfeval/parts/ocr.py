"""The OCR part: OcrRequest (scan bytes in the Object Store) → read pages → ParseRequest.

Beside the tables it keeps the upright page images it read (`<id>.page-<n>.png`, grey, at most 150 dpi)
in the Object Store, for the API to show a reviewer.

The engine runs on one dedicated thread so the event loop keeps heartbeating the message while a
page takes seconds. It is loaded on that same thread: Paddle's oneDNN (the second-opinion reader,
SLANet_plus) keeps its compiled kernels per thread, so a read on any other thread would pay the
set-up again. Input the engine refuses (not a scan, too many pages, …) becomes a rejected record at
once: retrying bad input cannot help. Run with `selfeval serve ocr`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import nats.js.errors
from nats.js import JetStreamContext

from selfeval.bootstrap import connect_nats
from selfeval.bus.handoff import Handoff, PermanentError, StageHandler
from selfeval.bus.service import CONFIG_ERROR_STATUS, run_service
from selfeval.contract.messages import (
    SCANS_BUCKET,
    OcrRequest,
    ParseRequest,
    Stage,
    page_image_object,
    tables_object,
)
from selfeval.contract.ocr import PageReader
from selfeval.intake import rejection_handoff
from selfeval.logs import configure_logging, get_logger
from selfeval.permissions import Role, service_name
from selfeval.settings import Settings, get_settings
from services.ocr.models import ModelMissing

SERVICE_NAME = service_name(Role.ocr)
log = get_logger("selfeval.parts.ocr")

Rejections = tuple[type[Exception], ...]


def load_reader(settings: Settings) -> tuple[PageReader, Rejections]:
    """The engine (models loaded once per process) and the exceptions with which it refuses input."""
    from services.ocr import InputRejected, OcrEngine, OcrSettings  # heavy: Paddle loads here

    return OcrEngine(OcrSettings.from_app_settings(settings)), (InputRejected,)


async def load_scan(js: JetStreamContext, request: OcrRequest) -> bytes:
    scans = await js.object_store(SCANS_BUCKET)
    try:
        result = await scans.get(request.submission_id)
    except nats.js.errors.ObjectNotFoundError:
        raise PermanentError(f"scan {request.submission_id} is missing from the object store") from None
    return result.data or b""


def make_handlers(
    js: JetStreamContext,
    reader: PageReader,
    rejections: Rejections,
    engine_thread: ThreadPoolExecutor | None = None,
) -> Mapping[Stage, StageHandler]:
    async def ocr(request: OcrRequest) -> list[Handoff]:
        data = await load_scan(js, request)
        loop = asyncio.get_running_loop()
        try:
            read = await loop.run_in_executor(engine_thread, reader.read_with_images, data, request.source)
        except rejections as exc:
            return [rejection_handoff(request, str(exc))]
        tables = read.tables
        tables.sha256, tables.source = request.submission_id, request.source
        scans = await js.object_store(SCANS_BUCKET)
        # The pages first: once the tables are there the parse stage may run, and a reviewer of its
        # records will want the pages.
        for image in read.page_images:
            await scans.put(page_image_object(request.submission_id, image.number), image.png)
        await scans.put(tables_object(request.submission_id), tables.model_dump_json().encode())
        message = ParseRequest(
            submission_id=request.submission_id, source=request.source, timings=tables.timings
        )
        return [Handoff.to(Stage.parse, message)]

    return {Stage.ocr: ocr}


def main() -> int:
    settings = get_settings()
    configure_logging(settings)
    # Load the models before taking work, so a missing model fails the start, not every message.
    engine_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocr-engine")
    try:
        reader, rejections = engine_thread.submit(load_reader, settings).result()
    except ModelMissing as exc:
        log.error("cannot start OCR", error=str(exc))
        return CONFIG_ERROR_STATUS
    return run_service(
        SERVICE_NAME,
        lambda js: make_handlers(js, reader, rejections, engine_thread),
        lambda name: connect_nats(settings, name, Role.ocr),
        rejection_handoff,
    )
