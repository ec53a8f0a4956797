"""The scorer part: ScoreRequest → score → PublishRequest; it also runs the publish stage
(`selfeval.publishing`), the last, cheap step after scoring.

Run with `selfeval serve scorer`; NATS_URL and SELFEVAL_* configure it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from nats.js import JetStreamContext

from selfeval import __version__
from selfeval.bootstrap import connect_nats, make_outbox
from selfeval.bus.handoff import Handoff, StageHandler
from selfeval.bus.service import run_service
from selfeval.contract.messages import PublishRequest, ScoreRequest, Stage
from selfeval.contract.record import Record
from selfeval.intake import rejection_handoff
from selfeval.logs import configure_logging
from selfeval.outbox import Outbox
from selfeval.permissions import Role, service_name
from selfeval.publishing import publish_handlers
from selfeval.settings import get_settings
from services.scorer import score_record

SERVICE_NAME = service_name(Role.scorer)


def score_all(records: list[Record]) -> list[Record]:
    started = time.perf_counter()
    scored = [score_record(record) for record in records]
    seconds = round(time.perf_counter() - started, 4)
    for record in scored:
        record.provenance.pipeline_version = __version__
        record.provenance.timings["score"] = seconds
    return scored


def make_handlers(js: JetStreamContext, outbox: Outbox) -> Mapping[Stage, StageHandler]:
    async def score(request: ScoreRequest) -> list[Handoff]:
        scored = await asyncio.to_thread(score_all, request.records)
        message = PublishRequest(submission_id=request.submission_id, source=request.source, records=scored)
        return [Handoff.to(Stage.publish, message)]

    return {Stage.score: score, **publish_handlers(js, outbox)}


def main() -> int:
    settings = get_settings()
    configure_logging(settings)
    outbox = make_outbox(settings)
    return run_service(
        SERVICE_NAME,
        lambda js: make_handlers(js, outbox),
        lambda name: connect_nats(settings, name, Role.scorer),
        rejection_handoff,
    )
