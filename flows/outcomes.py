"""How a record's outcome shows in Prefect: the final state's name, the run's tags, the review link.

A flow run that follows a submission (or a review) ends in a Completed-type state named after the
outcome, so the runs list tells a verified submission from one that needs a person at a glance, and
carries one tag per status of its records, so the list can be filtered by them. A submission with
several forms is named after the form that needs the most attention: a rejected form (its scan must be
looked at, or sent again) before one that needs review (a person must settle it) before a confirmed one
(an audit finding, already settled by a person) before a verified one (nothing to do).
"""

from __future__ import annotations

from collections.abc import Iterable

from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.states import Completed, State

from selfeval.contract import Status

STATE_NAMES: dict[Status, str] = {
    Status.verified: "Verified",
    Status.needs_review: "Needs review",
    Status.confirmed: "Confirmed",
    Status.rejected: "Rejected",
}
"""The name of the Completed state a run ends in, by the outcome it stands for."""

MOST_ATTENTION_FIRST = (Status.rejected, Status.needs_review, Status.confirmed, Status.verified)

SUBMISSION_TAG_LENGTH = 12
"""The short form of a submission id (what `selfeval submit` prints), tagged on every run about it."""


def most_attention(statuses: Iterable[Status]) -> Status | None:
    """The status among `statuses` that needs the most attention (None when there is none)."""
    present = set(statuses)
    return next((status for status in MOST_ATTENTION_FIRST if status in present), None)


def outcome_state(statuses: Iterable[Status], message: str, data: object = None) -> State:
    """The Completed state named after the outcome needing the most attention (plain Completed when
    there are no records to name it after)."""
    outcome = most_attention(statuses)
    if outcome is None:
        return Completed(message=message, data=data)
    return Completed(name=STATE_NAMES[outcome], message=message, data=data)


def status_tags(statuses: Iterable[Status]) -> list[str]:
    """One tag per status present: `verified`, `needs_review`, `confirmed`, `rejected`."""
    return sorted({status.value for status in statuses})


def submission_tag(submission_id: str) -> str:
    return submission_id[:SUBMISSION_TAG_LENGTH]


def review_page_url(public_url: str, record_id: str) -> str:
    """The API's review page of a record, as people open it."""
    return f"{public_url.rstrip('/')}/review/{record_id}"


async def tag_current_flow_run(tags: Iterable[str]) -> None:
    """Add `tags` to the flow run this code runs in (tags known only once the run has found them out;
    Prefect sets a run's tags at creation, so they are added to what the server holds)."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    run_id = context.flow_run.id
    async with get_client() as client:
        current = await client.read_flow_run(run_id)
        wanted = set(current.tags) | set(tags)
        if wanted != set(current.tags):
            await client.update_flow_run(run_id, tags=sorted(wanted))
