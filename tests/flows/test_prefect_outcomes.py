"""Prefect shows outcomes: a submission's run and a review's run, read back from a real Prefect server.

The submissions go through a real nats-server and the real parse, score and publish stages (from
perfect OCR tables, so no OCR model is needed); the flow run is started as the watcher starts it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from nats.js import JetStreamContext
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterName,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.settings import PREFECT_API_URL, temporary_settings
from structlog.testing import capture_logs

from flows import submission
from flows.review import announce_review
from flows.state_changes import StateChanges
from flows.submission import FlowContext
from flows.watcher import follow_until_reported
from scangen import scan_forms
from selfeval.bus.handoff import Handoff, StageHandler, publish_handoff
from selfeval.bus.state import update_state
from selfeval.contract import Record, Status
from selfeval.contract.messages import (
    SCANS_BUCKET,
    ParseRequest,
    Stage,
    StageState,
    SubmissionState,
    tables_object,
)
from selfeval.contract.record import Confirmation, Correction, Form, record_id_for
from selfeval.embedded import EmbeddedNats
from selfeval.outbox import LocalOutbox
from tests.bus.support import downstream, open_bus, run, running_workers
from tests.conftest import FIXTURES, REAL_FORMS, load_fixture
from tests.parser.truth_tables import page_tables

PUBLIC_URL = "http://review.example:8000"
PLANTED_NEEDS_REVIEW = FIXTURES / "planted" / "wrong_total_score.json"


async def ocr_done(js: JetStreamContext, submission_id: str, source: str, forms: list[Form]) -> None:
    """What the OCR service leaves behind: the submission known, its tables stored, OCR marked done."""
    tables = page_tables(scan_forms(forms, quality="clean", dpi=150, seed=1), submission_id, source)
    scans = await js.object_store(SCANS_BUCKET)
    await scans.put(tables_object(submission_id), tables.model_dump_json().encode())

    def mark_ocr_done(state: SubmissionState) -> None:
        state.stages[Stage.ocr] = StageState.done

    await update_state(
        js,
        submission_id,
        mark_ocr_done,
        default=lambda: SubmissionState(submission_id=submission_id, source=source),
    )


async def follow_through_pipeline(
    nats_url: str,
    home: Path,
    forms: list[Form],
    source: str,
    replaced: Mapping[Stage, StageHandler] | None = None,
) -> tuple[str, list[Record]]:
    """Submit `forms` as one scan, run the stages and the submission's flow run as the watcher does;
    the submission id and the records that came out."""
    submission_id = uuid4().hex * 2
    nc, js = await open_bus(nats_url)
    changes = StateChanges(js)
    await changes.start()
    outbox = LocalOutbox(home / "outbox")
    submission.configure(FlowContext(js, 60, changes, outbox_reader=outbox, public_url=PUBLIC_URL))
    try:
        await ocr_done(js, submission_id, source, forms)
        async with running_workers(js, {**downstream(js, home), **(replaced or {})}):
            await publish_handoff(
                js, Handoff.to(Stage.parse, ParseRequest(submission_id=submission_id, source=source))
            )
            await follow_until_reported(submission_id, source)
    finally:
        await changes.stop()
        await nc.close()
    records = [Record.model_validate_json(path.read_bytes()) for path in (home / "outbox").rglob("*.json")]
    return submission_id, records


async def the_flow_run(name: str) -> FlowRun:
    async with get_client() as client:
        runs = await client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
    assert len(runs) == 1, [run.name for run in runs]
    return runs[0]


async def artifact_markdown(key: str) -> str:
    async with get_client() as client:
        artifacts = await client.read_latest_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
    assert len(artifacts) == 1
    return str(artifacts[0].data)


def test_a_verified_submission_ends_in_verified_tagged_verified(
    nats_server: EmbeddedNats, prefect_server: str, tmp_path: Path
) -> None:
    source = f"inbox/{tmp_path.name}-verified.pdf"
    form = load_fixture(REAL_FORMS[0]).form

    async def scenario() -> None:
        submission_id, records = await follow_through_pipeline(nats_server.url, tmp_path, [form], source)
        assert [record.status for record in records] == [Status.verified]
        run_ = await the_flow_run(source)
        assert run_.state is not None
        assert (run_.state.type, run_.state.name) == (StateType.COMPLETED, "Verified")
        assert set(run_.tags) == {"verified", submission_id[:12]}
        markdown = await artifact_markdown(f"submission-{submission_id[:32]}")
        assert records[0].record_id in markdown and "/review/" not in markdown  # nothing to review

    run(scenario(), timeout=120)


def test_a_submission_with_a_form_to_review_is_named_after_it_and_links_to_its_review_page(
    nats_server: EmbeddedNats, prefect_server: str, tmp_path: Path
) -> None:
    source = f"inbox/{tmp_path.name}-two-forms.pdf"
    forms = [load_fixture(REAL_FORMS[0]).form, load_fixture(PLANTED_NEEDS_REVIEW).form]

    async def scenario() -> None:
        submission_id, records = await follow_through_pipeline(nats_server.url, tmp_path, forms, source)
        by_status = {record.status: record.record_id for record in records}
        assert set(by_status) == {Status.verified, Status.needs_review}
        run_ = await the_flow_run(source)
        assert run_.state is not None
        assert (run_.state.type, run_.state.name) == (StateType.COMPLETED, "Needs review")
        assert set(run_.tags) == {"verified", "needs_review", submission_id[:12]}
        markdown = await artifact_markdown(f"submission-{submission_id[:32]}")
        assert f"{PUBLIC_URL}/review/{by_status[Status.needs_review]}" in markdown
        assert f"/review/{by_status[Status.verified]}" not in markdown

    run(scenario(), timeout=120)


def test_a_submission_whose_stage_failed_still_fails_its_run_tagged_rejected(
    nats_server: EmbeddedNats, prefect_server: str, tmp_path: Path
) -> None:
    source = f"inbox/{tmp_path.name}-broken.pdf"

    async def broken(_request: ParseRequest) -> Sequence[Handoff]:
        raise RuntimeError("boom")

    async def scenario() -> None:
        form = load_fixture(REAL_FORMS[0]).form
        submission_id, records = await follow_through_pipeline(
            nats_server.url, tmp_path, [form], source, {Stage.parse: broken}
        )
        assert [record.status for record in records] == [Status.rejected]
        run_ = await the_flow_run(source)
        assert run_.state is not None and run_.state.type is StateType.FAILED
        assert set(run_.tags) == {"rejected", submission_id[:12]}

    run(scenario(), timeout=120)


def reviewed_record() -> Record:
    """A record whose second version a reviewer corrected (one field) to verified."""
    record = load_fixture(REAL_FORMS[1])
    sha256 = uuid4().hex * 2
    record_id = record_id_for(sha256, 1, record.form)
    at = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)
    record.record_id, record.submission.sha256 = record_id, sha256
    record.status, record.record_version = Status.verified, 2
    record.provenance.corrections = [
        Correction(
            path="form.total_score", old="97.15", new="98.15", reviewer="wang", at=at, note="seal", version=2
        )
    ]
    return record


def test_announce_review_runs_a_flow_run_named_after_the_record_in_its_outcome(prefect_server: str) -> None:
    record = reviewed_record()
    assert record.record_id is not None and record.submission.sha256 is not None

    async def scenario() -> None:
        await announce_review(record, "correction", "wang")
        run_ = await the_flow_run(f"review-{record.record_id[:8]}")  # type: ignore[index]
        assert run_.state is not None
        assert (run_.state.type, run_.state.name) == (StateType.COMPLETED, "Verified")
        assert set(run_.tags) == {record.submission.sha256[:12], "verified"}  # type: ignore[index]
        assert run_.parameters["reviewer"] == "wang" and run_.parameters["version"] == 2
        async with get_client() as client:
            assert (await client.read_flow(run_.flow_id)).name == "review"
        markdown = await artifact_markdown(f"review-{record.record_id}")
        assert "`form.total_score` | 97.15 | 98.15 | seal" in markdown and "wang" in markdown

    run(scenario(), timeout=60)


def test_a_confirmation_ends_in_confirmed(prefect_server: str) -> None:
    record = reviewed_record()
    record.status, record.provenance.corrections = Status.confirmed, []
    record.provenance.confirmations = [
        Confirmation(reviewer="li", at=datetime(2026, 12, 5, 9, 40, tzinfo=UTC), note="as printed", version=2)
    ]

    async def scenario() -> None:
        await announce_review(record, "confirmation", "li")
        run_ = await the_flow_run(f"review-{record.record_id[:8]}")  # type: ignore[index]
        assert run_.state is not None and run_.state.name == "Confirmed"
        assert "confirmed" in run_.tags
        assert "confirmed as printed by li" in await artifact_markdown(f"review-{record.record_id}")

    run(scenario(), timeout=60)


@pytest.mark.unit
def test_announce_review_with_prefect_unreachable_logs_one_warning_and_returns() -> None:
    async def scenario() -> None:
        with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}), capture_logs() as logs:
            await announce_review(reviewed_record(), "correction", "wang")
        warnings = [entry for entry in logs if entry["log_level"] == "warning"]
        assert len(warnings) == 1 and "unreachable" in warnings[0]["event"], logs

    run(scenario(), timeout=15)
