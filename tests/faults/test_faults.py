"""Faults injected into a running `selfeval up`: every submitted form still comes out exactly once.

Real processes throughout (nats-server, Prefect server, the services, watcher and API, PaddleOCR);
faults are real too: `kill -9` of a part while submissions are in flight, of the NATS server, of the
Prefect server, a submitter dying between its state write and its publish, and a poison submission
that kills the OCR process on every attempt. `selfeval up` restarts what dies.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import nats
import pytest

from benchmarks.soak import run_soak
from selfeval.contract import Status
from selfeval.contract.messages import SCANS_BUCKET, STATE_BUCKET, Stage, StageState, SubmissionState
from selfeval.up import BOOKKEEPING_NICENESS
from tests.faults.support import (
    any_in_stage,
    assert_exactly_once,
    dead_letters,
    drop,
    kill_9,
    nats_server_process,
    part_processes,
    restarted_part,
    run,
    scan_bytes,
    sha256,
    states,
    wait_for,
)
from tests.pipeline.system import RunningSystem, flow_runs

# When to pull the trigger, per part: while it holds work, as far as the KV state shows.
BUSY_WHEN = {
    "ocr": (Stage.ocr, StageState.running),
    "parser": (Stage.ocr, StageState.done),
    "scorer": (Stage.parse, StageState.done),
}
_seeds = iter(range(10_000, 20_000))


def fresh_scans(scans_dir: Path, count: int, prefix: str) -> dict[str, bytes]:
    return {f"{prefix}-{n}.pdf": scan_bytes(next(_seeds), scans_dir) for n in range(count)}


def inbox(system: RunningSystem) -> Path:
    return system.home / "inbox"


@pytest.mark.parametrize("part", ["ocr", "parser", "scorer", "watcher", "api"])
def test_kill_9_of_a_part_in_flight_loses_and_duplicates_nothing(
    system: RunningSystem, scans_dir: Path, part: str
) -> None:
    files = fresh_scans(scans_dir, 3, f"kill-{part}")
    (victim,) = part_processes(system.process.pid, part)
    if part == "api":  # one submission comes through the API, then the API dies
        name, data = files.popitem()
        response = httpx.post(f"{system.api_url}/submissions", files={"file": (name, data)}, timeout=30)
        assert response.status_code in (200, 201, 202), response.text
        ids = [sha256(data), *drop(inbox(system), files)]
    else:
        ids = drop(inbox(system), files)
    if part in BUSY_WHEN:
        stage, state = BUSY_WHEN[part]
        wait_for(lambda: any_in_stage(system.nats_url, ids, stage, state), 120, f"{stage} {state}")
    kill_9(victim)

    restarted_part(system.process.pid, part, victim.pid)
    assert_exactly_once(system.nats_url, ids)


def test_nats_server_killed_mid_run_comes_back_and_the_services_finish(
    system: RunningSystem, scans_dir: Path
) -> None:
    ids = drop(inbox(system), fresh_scans(scans_dir, 3, "nats-restart"))
    wait_for(lambda: any_in_stage(system.nats_url, ids, Stage.ocr, StageState.running), 120, "ocr running")
    kill_9(nats_server_process(system.process.pid))
    killed = time.monotonic()

    outcome = assert_exactly_once(system.nats_url, ids)
    print(
        f"nats kill -9: {outcome.count} records for {len(ids)} submissions, all published "
        f"{time.monotonic() - killed:.0f} s after the kill"
    )
    more = drop(inbox(system), fresh_scans(scans_dir, 1, "after-nats-restart"))
    assert_exactly_once(system.nats_url, more)  # the watcher still submits after the restart


async def _submitter_dies_before_publishing(nats_url: str, data: bytes, source: str) -> None:
    """What `selfeval.bus.submit` leaves behind when it dies between the state write and the publish."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await (await js.object_store(SCANS_BUCKET)).put(sha256(data), data)
        state = SubmissionState(submission_id=sha256(data), source=source)
        await (await js.key_value(STATE_BUCKET)).create(state.submission_id, state.model_dump_json().encode())
    finally:
        await nc.close()


def test_submission_whose_submitter_died_before_publishing_is_requeued(
    system: RunningSystem, scans_dir: Path
) -> None:
    data = scan_bytes(next(_seeds), scans_dir)
    run(_submitter_dies_before_publishing(system.nats_url, data, "inbox/orphan.pdf"))

    # The watcher re-queues it within its reconcile period (15 s) once it is 10 s old.
    assert_exactly_once(system.nats_url, [sha256(data)])


def _runs_by_submission(system: RunningSystem) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for flow_run in flow_runs(system, "submission"):
        submission_id = flow_run["parameters"].get("submission_id")
        found.setdefault(submission_id, []).append(flow_run["state_type"])
    return found


def _prefect_healthy(system: RunningSystem) -> bool:
    try:
        return httpx.get(system.prefect_api_url + "/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_prefect_server_down_for_a_while_drops_nothing_and_flow_runs_are_reconciled(
    system: RunningSystem, scans_dir: Path
) -> None:
    before = drop(inbox(system), fresh_scans(scans_dir, 2, "prefect-before"))
    wait_for(lambda: any_in_stage(system.nats_url, before, Stage.ocr, StageState.running), 120, "ocr")

    # A run in flight when the server dies is the run Prefect loses track of. Each submission has its
    # run by then, and one at least is still running: the first may already be done, since the watcher
    # that starts the runs works below the services' CPU priority.
    def in_flight() -> bool:
        runs = _runs_by_submission(system)
        return all(i in runs for i in before) and any("RUNNING" in runs[i] for i in before)

    wait_for(in_flight, 120, "runs in flight")
    (prefect,) = part_processes(system.process.pid, "prefect")
    kill_9(prefect)
    during = drop(inbox(system), fresh_scans(scans_dir, 2, "prefect-during"))
    # Records keep coming out while Prefect is away (it takes ~15 s to start again).
    assert_exactly_once(system.nats_url, before + during)

    wait_for(lambda: _prefect_healthy(system), 120, "the Prefect server back")
    ids = before + during

    def reconciled() -> dict[str, list[str]] | None:
        runs = _runs_by_submission(system)
        done = all(runs.get(i, []).count("COMPLETED") == 1 for i in ids)
        return runs if done else None

    try:
        runs = wait_for(reconciled, 180, "one completed flow run per submission", every=3)
    except TimeoutError as exc:
        seen = {i[:12]: states for i, states in _runs_by_submission(system).items() if i in ids}
        watcher_log = (system.home / "logs" / "watcher.log").read_text(errors="replace")[-4000:]
        raise AssertionError(f"{exc}; runs seen: {seen}\n--- watcher.log\n{watcher_log}") from exc
    for submission_id in ids:  # any earlier, lost run of the same submission is marked crashed
        assert set(runs[submission_id]) <= {"COMPLETED", "CRASHED"}, runs[submission_id]


def test_poison_submission_is_dead_lettered_as_rejected_and_the_others_flow(
    system: RunningSystem, scans_dir: Path, poison: bytes
) -> None:
    good = fresh_scans(scans_dir, 2, "beside-poison")
    ids = drop(inbox(system), {"poison.pdf": poison, **good})

    outcome = assert_exactly_once(system.nats_url, ids)
    (rejected,) = [r for r in outcome.records if r.submission.sha256 == sha256(poison)]
    assert rejected.status is Status.rejected
    assert rejected.reason and rejected.reason.startswith("ocr failed after 3 attempts"), rejected.reason
    others = [r for r in outcome.records if r.submission.sha256 != sha256(poison)]
    assert all(r.status is not Status.rejected for r in others), [(r.status, r.reason) for r in others]
    (state,) = states(system.nats_url, [sha256(poison)]).values()
    assert state.stages[Stage.ocr] is StageState.failed
    letters = [h for payload, h in dead_letters(system.nats_url) if sha256(poison) in payload]
    assert len(letters) == 1 and "ocr failed after 3 attempts" in letters[0]["Selfeval-Error"], letters


def test_short_soak_of_good_duplicate_and_bad_files(system: RunningSystem, scans_dir: Path) -> None:
    result = run_soak(system.nats_url, inbox(system), system.process.pid, n=20, seed=7, workdir=scans_dir)
    print(result.report())
    assert result.ok, result.report()
    assert result.duplicates > 0 and result.bad > 0


def test_the_system_still_stops_cleanly_after_the_faults(system: RunningSystem) -> None:
    # Every part is up again (the module fixture also asserts `selfeval up` exits 0).
    for part in ("ocr", "parser", "scorer", "watcher", "api", "prefect"):
        wait_for(lambda p=part: part_processes(system.process.pid, p), 60, f"{part} running")
    # Restarted parts keep their CPU priority: the services at normal, the bookkeeping below them.
    for part in ("ocr", "parser", "scorer"):
        assert {p.nice() for p in part_processes(system.process.pid, part)} == {0}, part
    for part in ("watcher", "api", "prefect"):
        assert {p.nice() for p in part_processes(system.process.pid, part)} == {BOOKKEEPING_NICENESS}, part
