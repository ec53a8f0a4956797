"""The watcher part: registers the `bucket-watcher` deployment and runs its flow here.

Run as `selfeval serve watcher` (what `selfeval up` starts). The deployment's flow run executes in
this process, so the watcher and the per-submission flow runs it starts share one NATS connection.
Submissions left unfinished by an earlier run (the watcher was killed) get a new flow run to follow
them, and so do submissions whose flow run an earlier watcher left "running" in Prefect (that run is
then marked Crashed), so every submission ends with one finished flow run.
"""

from __future__ import annotations

import asyncio

from prefect.deployments import run_deployment
from prefect.flow_engine import run_flow_async

from flows import submission, watcher
from flows.state_changes import StateChanges
from flows.submission import FlowContext, follow_submission, mark_crashed, unfinished_runs
from flows.watcher import BucketWatcher, WatcherRuntime, watch_bucket
from selfeval.bootstrap import connect_nats, make_inbox, make_outbox
from selfeval.bus.connection import drain
from selfeval.bus.service import run_until_stopped, unless_quit
from selfeval.bus.state import current_states
from selfeval.bus.topology import bind_topology
from selfeval.logs import configure_logging, get_logger
from selfeval.permissions import Role
from selfeval.settings import Settings, get_settings

DEPLOYMENT = "embedded"
log = get_logger("selfeval.watcher")


async def unfinished_submissions(watcher_: BucketWatcher) -> list[tuple[str, str]]:
    """Submissions the KV holds that have not reached the outbox yet."""
    return [
        (state.submission_id, state.source)
        async for state in current_states(watcher_.js)
        if not state.finished
    ]


async def orphaned_flow_runs() -> list[tuple[str, str]]:
    """Submissions whose flow run a dead watcher left unfinished in Prefect; stale watcher runs closed."""
    try:
        stale_watchers = await unfinished_runs(watch_bucket.name)
        await mark_crashed(
            [r.id for r in stale_watchers], "the watcher process stopped; a new watcher run replaced it"
        )
        runs = await unfinished_runs(follow_submission.name)
    except Exception as exc:
        log.warning("could not read unfinished flow runs", error=repr(exc))
        return []
    return [(str(r.parameters["submission_id"]), str(r.parameters["source"])) for r in runs if r.parameters]


async def run(settings: Settings, quit_event: asyncio.Event) -> None:
    nc = await unless_quit(connect_nats(settings, "selfeval-watcher", Role.watcher), quit_event)
    if nc is None:
        return
    try:
        js = nc.jetstream()
        if not await unless_quit(bind_topology(js), quit_event):
            return
        inbox = make_inbox(settings)
        changes = StateChanges(js)
        await changes.start()
        submission.configure(
            FlowContext(
                js,
                settings.stage_timeout,
                changes,
                outbox_reader=make_outbox(settings),
                public_url=settings.public_api_url(),
            )
        )
        bucket_watcher = BucketWatcher(
            inbox,
            js,
            settings.settle_seconds,
            settings.poll_seconds,
            incomplete_seconds=settings.incomplete_settle_seconds,
        )
        watcher.configure(WatcherRuntime(bucket_watcher, nc, quit_event))
        to_follow = dict(await unfinished_submissions(bucket_watcher))
        to_follow.update(await orphaned_flow_runs())
        for submission_id, source in to_follow.items():
            log.info("following an unfinished submission", submission_id=submission_id, source=source)
            bucket_watcher.start_follower(submission_id, source)
        parameters = {"inbox": inbox.describe()}
        deployment = await watch_bucket.to_deployment(name=DEPLOYMENT, parameters=parameters)
        await deployment.apply()
        flow_run = await run_deployment(f"{watch_bucket.name}/{DEPLOYMENT}", parameters=parameters, timeout=0)
        await run_flow_async(watch_bucket, flow_run=flow_run, parameters=parameters)
    finally:
        await drain(nc)


def main() -> int:
    settings = get_settings()
    configure_logging(settings)
    return run_until_stopped(lambda quit_event: run(settings, quit_event))
