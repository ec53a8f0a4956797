"""The parser part: ParseRequest (tables in the Object Store) → parse → ScoreRequest.

Run with `selfeval serve parser`; NATS_URL and SELFEVAL_* configure it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import nats.js.errors
from nats.js import JetStreamContext
from pydantic import ValidationError

from selfeval.bootstrap import connect_nats
from selfeval.bus.handoff import Handoff, PermanentError, StageHandler
from selfeval.bus.service import run_service
from selfeval.contract.messages import SCANS_BUCKET, ParseRequest, ScoreRequest, Stage, tables_object
from selfeval.contract.ocr import PageTables
from selfeval.intake import rejection_handoff
from selfeval.logs import configure_logging
from selfeval.permissions import Role, service_name
from selfeval.settings import Settings, get_settings
from services.parser import parse_submission

SERVICE_NAME = service_name(Role.parser)


async def load_tables(js: JetStreamContext, request: ParseRequest) -> PageTables:
    scans = await js.object_store(SCANS_BUCKET)
    try:
        result = await scans.get(tables_object(request.submission_id))
    except nats.js.errors.ObjectNotFoundError:
        # OCR stores the tables before it hands on, so they will not turn up later.
        raise PermanentError(f"OCR tables {tables_object(request.submission_id)} are missing") from None
    try:
        tables = PageTables.model_validate_json(result.data or b"")
    except ValidationError as exc:
        raise PermanentError(f"OCR tables are malformed: {exc.errors()[:1]}") from None
    # The parser names records after the submission; trust the message over what OCR wrote.
    tables.sha256, tables.source = request.submission_id, request.source
    return tables


def make_handlers(js: JetStreamContext, settings: Settings) -> Mapping[Stage, StageHandler]:
    async def parse(request: ParseRequest) -> list[Handoff]:
        tables = await load_tables(js, request)
        started = time.perf_counter()
        records = await asyncio.to_thread(parse_submission, tables, settings.min_confidence)
        seconds = round(time.perf_counter() - started, 4)
        for record in records:
            record.provenance.timings.update({**request.timings, "parse": seconds})
        message = ScoreRequest(submission_id=request.submission_id, source=request.source, records=records)
        return [Handoff.to(Stage.score, message)]

    return {Stage.parse: parse}


def main() -> int:
    settings = get_settings()
    configure_logging(settings)
    return run_service(
        SERVICE_NAME,
        lambda js: make_handlers(js, settings),
        lambda name: connect_nats(settings, name, Role.parser),
        rejection_handoff,
    )
