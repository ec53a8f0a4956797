"""One Prefect flow run per submission, named after the file, with one task per stage.

The services do the work and hand it on over JetStream by themselves; this flow follows a submission
through the stages (from its state in the KV bucket) so the Prefect UI shows where each one is, how
long each stage took and why one failed, and it leaves an artifact summarising the records, with a
link to the review page of each record that needs review. The run ends in a Completed state named
after the outcome (Verified, Needs review, Rejected, Confirmed; see `flows.outcomes`) and is tagged
with its records' statuses; a stage the services gave up on still fails the run. Work never waits for
Prefect: if the Prefect server is away, the records still come out.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import nats.errors
from nats.js import JetStreamContext
from prefect import flow, task
from prefect.artifacts import acreate_markdown_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterName,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.states import Crashed, State

from flows.outcomes import outcome_state, review_page_url, status_tags, tag_current_flow_run
from flows.state_changes import StateChanges
from selfeval.bus.state import get_state
from selfeval.contract import Record, Status
from selfeval.contract.messages import Stage, StageState, SubmissionState
from selfeval.logs import get_logger

log = get_logger("selfeval.flows")

# Transient faults worth a task retry; a stage the services marked failed is final.
TRANSIENT = (ConnectionError, TimeoutError, OSError)


class StageFailedError(Exception):
    """The services gave up on a stage; the message is their reason."""


@dataclass
class FlowContext:
    """What the flows need from the process that runs them (set once by its composition root)."""

    js: JetStreamContext
    stage_timeout: float
    changes: StateChanges
    outbox_reader: object | None = None
    public_url: str | None = None
    """Where people open the API, for the review links (None: no links)."""


_context: FlowContext | None = None


def configure(context: FlowContext) -> None:
    global _context
    _context = context


def _ctx() -> FlowContext:
    if _context is None:
        raise RuntimeError("flows.submission.configure() was not called")
    return _context


class StageTimedOutError(Exception):
    """A stage did not finish within SELFEVAL_STAGE_TIMEOUT: not retried (it already waited that long)."""


async def is_transient(_task: object, _run: object, state: State) -> bool:
    """Retry a stage task only for a passing connection problem (Prefect awaits an async condition)."""
    try:
        await state.aresult()
    except TRANSIENT:
        return True
    except Exception:
        return False
    return False


async def wait_for_stage(submission_id: str, stage: Stage) -> SubmissionState:
    """Until the services mark the stage done (or failed, or the stage takes too long)."""
    ctx = _ctx()
    deadline = time.monotonic() + ctx.stage_timeout
    async with ctx.changes.following(submission_id) as written:
        while True:
            written.clear()
            try:
                state = await get_state(ctx.js, submission_id)
            except (nats.errors.Error, ConnectionError, TimeoutError):
                state = None  # NATS is away for a moment (restart, failover): keep following
            if state is not None:
                if state.stages[stage] is StageState.done:
                    return state
                if state.stages[stage] is StageState.failed:
                    raise StageFailedError(state.errors.get(stage, f"{stage} failed"))
                if stage is not Stage.publish and state.stages[Stage.publish] is StageState.done:
                    return state  # rejected early (bad input): later stages were skipped
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StageTimedOutError(f"{stage} did not finish within {ctx.stage_timeout:.0f} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(written.wait(), min(remaining, ctx.changes.recheck_seconds))


def _stage_task(stage: Stage):  # type: ignore[no-untyped-def]
    @task(name=stage.value, retries=3, retry_delay_seconds=[2, 10, 30], retry_condition_fn=is_transient)
    async def follow(submission_id: str) -> dict[str, object]:
        state = await wait_for_stage(submission_id, stage)
        return {
            "stage": stage.value,
            "state": state.stages[stage].value,
            "seconds": state.stage_seconds.get(stage),
        }

    return follow


STAGE_TASKS = {stage: _stage_task(stage) for stage in Stage}


def summary_markdown(
    source: str, state: SubmissionState, records: list[Record], public_url: str | None = None
) -> str:
    lines = [
        f"# {source}",
        "",
        f"submission `{state.submission_id}`",
        "",
        "| project | status | why | record |",
        "| --- | --- | --- | --- |",
    ]
    for record in records:
        # The scorer's reason tells failed rules from those that could not run for want of a reading.
        detail = record.reason or ", ".join(record.failing_rules()) or "-"
        lines.append(
            f"| {record.form.project_name or '-'} | {record.status} | {detail} | `{record.record_id}` |"
        )
    if not records:
        lines.append(f"| - | {', '.join(state.statuses) or '-'} | - | {', '.join(state.record_ids)} |")
    timings = ", ".join(f"{stage}: {seconds:.1f} s" for stage, seconds in state.stage_seconds.items())
    lines += ["", f"stage times: {timings or '-'}"]
    to_review = [
        record_id
        for record_id, status in zip(state.record_ids, state.statuses, strict=False)
        if status is Status.needs_review
    ]
    if public_url and to_review:
        projects = {record.record_id: record.form.project_name for record in records}
        lines += ["", "## Needs review", ""]
        lines += [
            f"- [{projects.get(record_id) or record_id}]({review_page_url(public_url, record_id)})"
            for record_id in to_review
        ]
    return "\n".join(lines)


def _artifact_key(submission_id: str) -> str:
    # Artifact keys allow lowercase letters, digits and dashes only.
    return f"submission-{submission_id[:32]}"


@flow(name="submission", flow_run_name="{source}", log_prints=False)
async def follow_submission(submission_id: str, source: str) -> State:
    """Follow one submission through ocr → parse → score → publish; ends in the state named after its
    outcome, holding its record ids."""
    failure: StageFailedError | None = None
    for stage in Stage:
        try:
            await STAGE_TASKS[stage](submission_id)
        except StageFailedError as exc:
            failure = exc
            break
    # A failed stage still ends in a (rejected) record: wait for it, so the artifact can show it.
    state = (
        await wait_for_stage(submission_id, Stage.publish)
        if failure
        else await get_state(_ctx().js, submission_id)
    )
    assert state is not None
    records = _read_records(state)
    await acreate_markdown_artifact(
        key=_artifact_key(submission_id),
        markdown=summary_markdown(source, state, records, _ctx().public_url),
        description=f"records of {source}",
    )
    await _tag_with_statuses(state)
    if failure is not None:
        raise failure
    message = ", ".join(f"{n} {status}" for status, n in Counter(state.statuses).items()) or "no records"
    return outcome_state(state.statuses, message, data=state.record_ids)


async def _tag_with_statuses(state: SubmissionState) -> None:
    try:
        await tag_current_flow_run(status_tags(state.statuses))
    except Exception as exc:  # the run's state still names the outcome; a missing tag is no failure
        log.warning("could not tag the flow run", submission_id=state.submission_id, error=repr(exc))


def _read_records(state: SubmissionState) -> list[Record]:
    reader = _ctx().outbox_reader
    if reader is None:
        return []
    records = []
    for record_id, status in zip(state.record_ids, state.statuses, strict=False):
        record = reader.read_record(record_id, status)  # type: ignore[attr-defined]
        if record is not None:
            records.append(record)
    return records


UNFINISHED = [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING]


async def unfinished_runs(flow_name: str, run_name: str | None = None) -> list[FlowRun]:
    """Flow runs of `flow_name` Prefect still shows as scheduled, pending or running."""
    run_filter = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=UNFINISHED)))
    if run_name is not None:
        run_filter.name = FlowRunFilterName(any_=[run_name])
    async with get_client() as client:
        return await client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])), flow_run_filter=run_filter
        )


async def mark_crashed(run_ids: list[UUID], message: str) -> None:
    async with get_client() as client:
        for run_id in run_ids:
            await client.set_flow_run_state(run_id, Crashed(message=message), force=True)


async def supersede_lost_runs(
    submission_id: str, source: str, current: UUID | None, untracked: Sequence[UUID | None] = ()
) -> None:
    """Mark Crashed the earlier runs of this submission that Prefect lost track of: those it still shows
    as running, and `untracked` ones that ended only because the Prefect server was away."""
    try:
        runs = await unfinished_runs(follow_submission.name, source)
        lost = [r.id for r in runs if r.parameters.get("submission_id") == submission_id and r.id != current]
        lost += [run_id for run_id in untracked if run_id is not None and run_id not in lost]
        await mark_crashed(lost, f"lost while Prefect or the watcher was away; superseded by run {current}")
    except Exception as exc:
        log.warning("could not mark lost flow runs", submission_id=submission_id, error=repr(exc))
