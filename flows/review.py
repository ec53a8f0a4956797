"""A review shows in Prefect: one short flow run per review, beside the runs of its submission.

After a reviewer's correction or confirmation is published, `announce_review` reports a run of the
`review` flow named `review-<first 8 digits of the record id>`, tagged with the submission's short id
(the tag its submission's run carries too, so filtering by it shows a submission and its reviews
together) and the record's new status. It ends in the state named after the record's new outcome
(Verified, Confirmed, …) and leaves a markdown artifact, keyed by the record, listing what the review
changed.

Prefect only reports: a review never fails or waits long because of it. When Prefect is not configured,
unreachable or slow, `announce_review` logs one warning line and returns.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import httpx
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.actions import ArtifactCreate, FlowRunCreate
from prefect.client.schemas.objects import FlowRun
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.states import Completed, Running, to_state_create

from flows.outcomes import STATE_NAMES, review_page_url, submission_tag
from selfeval.bootstrap import prefect_api_url
from selfeval.contract import Record, Status
from selfeval.contract.record import Confirmation, Correction
from selfeval.logs import get_logger
from selfeval.settings import get_settings

log = get_logger("selfeval.flows")

HEALTH_TIMEOUT = 3.0
"""Seconds the Prefect server gets to answer its health check before the review goes unannounced."""
ANNOUNCE_TIMEOUT = 10.0
"""Longest a review waits for its flow run to be reported (a healthy server takes well under a second)."""
RUN_NAME_DIGITS = 8
REVIEW_FLOW = "review"


def review_markdown(record: Record, action: str, reviewer: str, review_page: str | None = None) -> str:
    """What the latest review of `record` changed: its corrections and confirmation of this version."""
    version = record.record_version
    corrections = [c for c in record.provenance.corrections if c.version == version]
    confirmations = [c for c in record.provenance.confirmations if c.version == version]
    lines = [
        f"# {record.form.project_name or record.record_id}",
        "",
        f"record `{record.record_id}`, version {version}: {action} by {reviewer}, "
        f"now **{STATE_NAMES[record.status or Status.needs_review]}**",
    ]
    if corrections:
        lines += ["", "| field | was | now | note |", "| --- | --- | --- | --- |"]
        lines += [_correction_row(correction) for correction in corrections]
    lines += [_confirmation_line(confirmation) for confirmation in confirmations]
    if not corrections and not confirmations:
        lines += ["", "no change recorded for this version"]
    if failing := record.failing_rules():
        lines += ["", f"failing rules kept: {', '.join(failing)}"]
    if review_page:
        lines += ["", f"[review page]({review_page})"]
    return "\n".join(lines)


def _cell(text: str | None) -> str:
    # A value may hold a pipe or a line break, which would end a markdown table cell.
    return (text or "-").replace("|", "\\|").replace("\n", " ")


def _correction_row(correction: Correction) -> str:
    return (
        f"| `{correction.path}` | {_cell(correction.old)} | {_cell(correction.new)} | "
        f"{_cell(correction.note)} |"
    )


def _confirmation_line(confirmation: Confirmation) -> str:
    note = f": {confirmation.note}" if confirmation.note else ""
    return f"\nconfirmed as printed by {confirmation.reviewer} at {confirmation.at:%Y-%m-%d %H:%M} UTC{note}"


async def report_review(
    record: Record, action: str, reviewer: str, markdown: str, client: PrefectClient
) -> FlowRun:
    """The review's flow run, created Running and ended in the record's new outcome, with its artifact.

    Reported straight to the API rather than run by Prefect's flow engine: a review is done by the time
    it is announced, and the engine would take over the API process's SIGTERM handling and start
    background log and event senders there for a run that lasts a moment."""
    assert record.record_id is not None
    status = record.status or Status.needs_review
    flow_id = await client.create_flow_from_name(REVIEW_FLOW)
    run = FlowRunCreate(
        flow_id=flow_id,
        name=f"review-{record.record_id[:RUN_NAME_DIGITS]}",
        parameters={
            "record_id": record.record_id,
            "action": action,
            "reviewer": reviewer,
            "version": record.record_version,
            "status": status.value,
        },
        tags=_review_tags(record, status),
        state=to_state_create(Running()),
    )
    response = await client.request(
        "POST", "/flow_runs/", json=run.model_dump(mode="json", exclude_unset=True)
    )
    flow_run = FlowRun.model_validate(response.json())
    await client.create_artifact(
        ArtifactCreate(
            key=f"review-{record.record_id}",
            type="markdown",
            data=markdown,
            description=f"{action} of record {record.record_id}",
            flow_run_id=flow_run.id,
        )
    )
    message = f"{action} by {reviewer}: version {record.record_version} is {status}"
    await client.set_flow_run_state(flow_run.id, Completed(name=STATE_NAMES[status], message=message))
    return flow_run


async def announce_review(record: Record, action: str, reviewer: str) -> None:
    """Show a review in Prefect (call it once the new record version is published). Never raises."""
    record_id = record.record_id or "unknown"
    try:
        settings = get_settings()
        api_url = PREFECT_API_URL.value() or prefect_api_url(settings)
        if not api_url:
            log.warning("review not shown in Prefect: no Prefect server configured", record_id=record_id)
            return
        if not await _healthy(api_url):
            log.warning("review not shown in Prefect: server unreachable", record_id=record_id)
            return
        page = review_page_url(settings.public_api_url(), record_id)
        markdown = review_markdown(record, action, reviewer, page)
        with _reporting_to(api_url):
            async with get_client() as client:
                await asyncio.wait_for(
                    report_review(record, action, reviewer, markdown, client), ANNOUNCE_TIMEOUT
                )
    except Exception as exc:
        log.warning("review not shown in Prefect", record_id=record_id, error=repr(exc))


def _review_tags(record: Record, status: Status) -> list[str]:
    sha256 = record.submission.sha256
    return [submission_tag(sha256), status.value] if sha256 else [status.value]


@contextlib.contextmanager
def _reporting_to(api_url: str) -> Iterator[None]:
    """Prefect's client aimed at `api_url` (the API may have found it in the endpoints file only; with
    no URL at all Prefect would start a temporary server of its own)."""
    if PREFECT_API_URL.value() == api_url:
        yield
        return
    with temporary_settings(updates={PREFECT_API_URL: api_url}):  # this task's context only
        yield


async def _healthy(api_url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=HEALTH_TIMEOUT) as client:
            response = await client.get(api_url.rstrip("/") + "/health")
        return response.status_code == 200
    except httpx.HTTPError:
        return False
