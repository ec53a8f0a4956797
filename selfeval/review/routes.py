"""The review calls over HTTP: claim, release, corrections, confirm, and the queue as JSON.

Every call needs a reviewer's token (`Authorization: Bearer TOKEN`, or the review page's cookie, which
holds the same token): 401 without one. The reviewer is the one the token belongs to; a `reviewer`
named in the body must be that one (403 otherwise), so nobody signs a decision with another's name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Depends, Header, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from selfeval.contract import Record
from selfeval.review.claims import Claim
from selfeval.review.corrections import Refusal, ReviewRefusedError
from selfeval.review.desk import ReviewDesk
from selfeval.review.reviewers import ReviewerDirectory

REVIEWER_COOKIE = "selfeval_reviewer"
"""The review page keeps the reviewer's token here (HttpOnly, SameSite=Strict) after they sign in."""
HTTP_STATUS = {Refusal.not_found: 404, Refusal.conflict: 409, Refusal.invalid: 422, Refusal.forbidden: 403}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClaimBody(_Body):
    reviewer: str | None = Field(None, description="if given, must be the reviewer the token belongs to")


class CorrectionIn(_Body):
    path: str = Field(description="a record path, e.g. form.total_score or form.indicators[3].score")
    value: StrictStr | None = Field(
        description='the value as printed, as a string (figures as decimals such as "98.15"); null empties'
    )


class CorrectionsBody(_Body):
    reviewer: str | None = Field(None, description="if given, must be the reviewer the token belongs to")
    version: StrictInt = Field(description="the record_version the reviewer looked at")
    corrections: list[CorrectionIn] = Field(min_length=1)
    note: str | None = None


class ConfirmBody(_Body):
    reviewer: str | None = Field(None, description="if given, must be the reviewer the token belongs to")
    version: StrictInt = Field(description="the record_version the reviewer looked at")
    note: str | None = None


class QueueItem(BaseModel):
    record_id: str
    record_version: int
    project_name: str | None
    implementing_unit: str | None
    failing_rules: list[str]
    unchecked_rules: list[str] = Field(description="of the failing rules, those that could not run")
    fields_needing_review: list[str]
    received_at: datetime | None
    claimed_by: str | None
    claimed_until: datetime | None


def reviewer_from(reviewers: ReviewerDirectory, authorization: str | None, cookie: str | None) -> str | None:
    """The reviewer a request speaks for, from its bearer token or the review page's cookie."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and token:
        return reviewers.authenticate(token)
    return reviewers.authenticate(cookie)


def reviewer_required(reviewers: ReviewerDirectory) -> Callable[..., Awaitable[str]]:
    """A dependency giving the signed-in reviewer's name, 401 without one."""

    async def reviewer(
        authorization: Annotated[str | None, Header()] = None,
        selfeval_reviewer: Annotated[str | None, Cookie()] = None,
    ) -> str:
        name = reviewer_from(reviewers, authorization, selfeval_reviewer)
        if name is None:
            raise HTTPException(401, "a reviewer's token is required: 'Authorization: Bearer <token>'")
        return name

    return reviewer


def review_router(desk: Callable[[], ReviewDesk], reviewers: ReviewerDirectory) -> APIRouter:
    """`desk` gives the desk once the API is connected to NATS."""
    router = APIRouter(tags=["review"])

    signed_in = Depends(reviewer_required(reviewers))

    def speaking_for(name: str, claimed: str | None) -> None:
        if claimed is not None and claimed != name:
            raise HTTPException(403, f"the token is {name}'s, not {claimed}'s")

    async def settle(call: Awaitable[Any]) -> Any:
        try:
            return await call
        except ReviewRefusedError as refusal:
            raise HTTPException(HTTP_STATUS[refusal.refusal], refusal.detail) from None

    def record_response(record: Record) -> Response:
        return Response(record.model_dump_json(indent=2), media_type="application/json")

    @router.get("/review/records/{record_id}", dependencies=[signed_in])
    async def current(record_id: str) -> Response:
        """The record's current version, as a reviewer decides on it."""
        return record_response(await settle(desk().current(record_id)))

    @router.post("/records/{record_id}/claim", response_model=Claim)
    async def claim(record_id: str, name: str = signed_in, body: ClaimBody | None = None) -> Claim:
        """Take the record for review (or extend your claim); 409 while another reviewer holds it."""
        speaking_for(name, body.reviewer if body else None)
        result: Claim = await settle(desk().claim(record_id, name))
        return result

    @router.post("/records/{record_id}/release", status_code=204)
    async def release(record_id: str, name: str = signed_in, body: ClaimBody | None = None) -> Response:
        """Give the record back; 409 when another reviewer holds it."""
        speaking_for(name, body.reviewer if body else None)
        await settle(desk().release(record_id, name))
        return Response(status_code=204)

    @router.post("/records/{record_id}/corrections")
    async def correct(record_id: str, body: CorrectionsBody, name: str = signed_in) -> Response:
        """Replace misread values and score the record again: it becomes `verified` if every error-level
        rule passes. 409 for a stale version or another's claim; 422 for a path the record does not
        have or a value the contract refuses. The new version is returned."""
        speaking_for(name, body.reviewer)
        changes = [(item.path, item.value) for item in body.corrections]
        return record_response(
            await settle(desk().correct(record_id, name, body.version, changes, body.note))
        )

    @router.post("/records/{record_id}/confirm")
    async def confirm(record_id: str, body: ConfirmBody, name: str = signed_in) -> Response:
        """The values match the scan and the form's own arithmetic is wrong: the record becomes
        `confirmed` (an audit finding) with its failing checks kept. The new version is returned."""
        speaking_for(name, body.reviewer)
        return record_response(await settle(desk().confirm(record_id, name, body.version, body.note)))

    @router.get("/review/queue", response_model=list[QueueItem], dependencies=[signed_in])
    async def queue() -> list[QueueItem]:
        """The records that need review, oldest submission first, with who holds each."""
        return [
            QueueItem(
                record_id=entry.record.record_id or "",
                record_version=entry.record.record_version,
                project_name=entry.record.form.project_name,
                implementing_unit=entry.record.form.implementing_unit,
                failing_rules=entry.record.failing_rules(),
                unchecked_rules=entry.record.unchecked_rules(),
                fields_needing_review=entry.record.fields_needing_review(),
                received_at=entry.received_at,
                claimed_by=entry.claim.reviewer if entry.claim else None,
                claimed_until=entry.claim.until if entry.claim else None,
            )
            for entry in await desk().queue()
        ]

    return router
