"""Which finished flow runs stand for a submission's outcome, and which the watcher runs again.

A run fails for the submission's sake only when the services gave up on a stage; a run that failed
because the Prefect server was away (a task could not take its tag's concurrency slot, a state could
not be reported) says nothing about the form, so the watcher runs it again and marks it Crashed.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError
from prefect.states import Completed, Crashed, Failed, State

from flows.submission import StageFailedError, StageTimedOutError
from flows.watcher import lost_contact, untracked_reason

pytestmark = pytest.mark.unit


def _slot_refused_while_server_away() -> ConcurrencySlotAcquisitionError:
    """What a tagged task raised when the Prefect server was killed under it (as seen in its log)."""
    try:
        try:
            raise httpx.ConnectError("All connection attempts failed")
        except httpx.ConnectError as cause:
            raise ConcurrencySlotAcquisitionError(
                "Unable to acquire concurrency slots on ['tag:x']"
            ) from cause
    except ConcurrencySlotAcquisitionError as exc:
        return exc


def _reason(state: State) -> str | None:
    return asyncio.run(untracked_reason(state))


def test_a_run_failed_for_want_of_the_prefect_server_is_not_the_outcome() -> None:
    reason = _reason(Failed(data=_slot_refused_while_server_away()))
    assert reason is not None and "Prefect server was away" in reason


def test_a_connection_error_deep_in_the_chain_counts_as_lost_contact() -> None:
    try:
        try:
            raise httpx.ReadTimeout("timed out")
        except httpx.ReadTimeout:
            raise RuntimeError("could not report the state")  # noqa: B904 (chained implicitly, as __context__)
    except RuntimeError as exc:
        assert lost_contact(exc)


def test_a_stage_the_services_gave_up_on_is_the_outcome() -> None:
    assert _reason(Failed(data=StageFailedError("ocr failed after 3 attempts"))) is None
    assert _reason(Failed(data=StageTimedOutError("ocr did not finish within 600 s"))) is None
    assert not lost_contact(ValueError("a bug in the flow is shown, not hidden by re-runs"))


def test_completed_runs_stand_and_crashed_runs_do_not() -> None:
    assert _reason(Completed()) is None
    assert _reason(Crashed(message="the process died")) == "the run crashed"
