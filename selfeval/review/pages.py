"""The review pages: the queue, and one record beside its scan. Server-rendered (Jinja2) with a little
JavaScript that calls the same review API a script would; no build step.

A reviewer signs in once with their token, which the page keeps in an HttpOnly, SameSite=Strict
cookie; every page and call checks it like a bearer token.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Depends, Form, Header, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from PIL import Image

from selfeval.contract import FieldLocation, Record, Suggestion, is_record_id
from selfeval.page_boxes import draw_fields
from selfeval.review.corrections import ReviewRefusedError, editable_fields
from selfeval.review.desk import ReviewDesk
from selfeval.review.reviewers import ReviewerDirectory
from selfeval.review.routes import REVIEWER_COOKIE, reviewer_from, reviewer_required

HERE = Path(__file__).parent
STATIC_FILES = {"review.css": "text/css", "review.js": "text/javascript"}
STATUS_NAMES = {"verified": "已核验", "needs_review": "待复核", "confirmed": "已确认", "rejected": "已拒收"}
CROP_MARGIN = 0.01
"""Fraction of the page added around a field's box in its crop, so the cell's rulings show."""

PageImage = Callable[[str, int], Awaitable[bytes | None]]
"""The upright page image (PNG) a submission's page was read from, or None when it was not kept."""

_FORM_LABELS = {
    "year": "年度",
    "project_name": "项目名称",
    "department": "主管部门",
    "implementing_unit": "实施单位",
    "total_weight": "总分·分值",
    "total_score": "总分",
    "grade": "评分等级",
}
_FUNDING_ROWS = {
    "total": "年度资金总额",
    "current_year_appropriation": "当年财政拨款",
    "carryover": "上年结转资金",
    "other": "其他资金",
}
_COLUMNS = {
    "initial_budget": "年初预算数",
    "annual_budget": "全年预算数",
    "executed": "全年执行数",
    "weight": "分值",
    "execution_rate": "执行率",
    "score": "得分",
    "level1": "一级指标",
    "level2": "二级指标",
    "name": "三级指标",
    "target": "年度指标值",
    "actual": "实际完成值",
    "deviation_reason": "偏差原因",
    "expected": "预期目标",
}
_ROW = re.compile(r"^form\.(indicators|goals)\[(\d+)\]\.(\w+)$")


def field_label(path: str, record: Record) -> str:
    """What a reviewer calls the field: 总分, 年度资金总额·全年执行数, 指标 5「…」·得分."""
    steps = path.split(".")
    if len(steps) == 2 and steps[1] in _FORM_LABELS:
        return _FORM_LABELS[steps[1]]
    if len(steps) == 4 and steps[1] == "funding":
        return f"{_FUNDING_ROWS.get(steps[2], steps[2])}·{_COLUMNS.get(steps[3], steps[3])}"
    match = _ROW.match(path)
    if match:
        kind, index, column = match[1], int(match[2]), match[3]
        if kind == "indicators" and index < len(record.form.indicators):
            name = record.form.indicators[index].name
            return f"指标 {index + 1}「{name[:16]}」·{_COLUMNS.get(column, column)}"
        if kind == "goals":
            return f"目标 {index + 1}·{_COLUMNS.get(column, column)}"
    return path


@dataclass(frozen=True)
class FieldView:
    path: str
    label: str
    value: str | None
    raw: str | None
    confidence: float | None
    doubtful: bool
    suggestion: Suggestion | None
    location: FieldLocation | None


def field_views(record: Record, min_confidence: float) -> tuple[list[FieldView], list[FieldView]]:
    """The fields that need a look (in the order the checks name them), and every editable field."""
    provenance = record.provenance
    raw_text: dict[str, str] = getattr(provenance, "raw_text", None) or {}
    values = dict(editable_fields(record.form))

    def view(path: str) -> FieldView:
        confidence = provenance.reading_confidence(path)
        return FieldView(
            path=path,
            label=field_label(path, record),
            value=values.get(path),
            raw=raw_text.get(path),
            confidence=confidence,
            doubtful=confidence is not None and confidence < min_confidence,
            suggestion=provenance.suggestions.get(path),
            location=provenance.field_locations.get(path),
        )

    needing = [view(path) for path in record.fields_needing_review() if path in values]
    return needing, [view(path) for path in values]


def history(record: Record) -> list[dict[str, Any]]:
    entries: dict[int, dict[str, Any]] = {}
    for correction in record.provenance.corrections:
        entry = entries.setdefault(
            correction.version,
            {
                "version": correction.version,
                "reviewer": correction.reviewer,
                "at": correction.at,
                "note": correction.note,
                "changes": [],
            },
        )
        entry["changes"].append(f"{correction.path}: {correction.old or '空'} → {correction.new or '空'}")
    for confirmation in record.provenance.confirmations:
        entries[confirmation.version] = {
            "version": confirmation.version,
            "reviewer": confirmation.reviewer,
            "at": confirmation.at,
            "note": confirmation.note,
            "changes": ["按原样确认"],
        }
    return [
        {**entry, "at": entry["at"].strftime("%Y-%m-%d %H:%M"), "what": "；".join(entry["changes"])}
        for _, entry in sorted(entries.items())
    ]


def age_text(since: datetime | None, now: datetime) -> str:
    if since is None:
        return "—"
    minutes = int((now - since).total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 0)} 分钟"
    if minutes < 48 * 60:
        return f"{minutes // 60} 小时"
    return f"{minutes // (24 * 60)} 天"


def crop_png(page_png: bytes, location: FieldLocation) -> bytes:
    """The part of the page a field sits in, with a little margin."""
    with Image.open(io.BytesIO(page_png)) as page:
        width, height = page.size
        x0, y0, x1, y1 = location.box
        box = (
            max(0, int((x0 - CROP_MARGIN) * width)),
            max(0, int((y0 - CROP_MARGIN) * height)),
            min(width, int((x1 + CROP_MARGIN) * width) + 1),
            min(height, int((y1 + CROP_MARGIN) * height) + 1),
        )
        out = io.BytesIO()
        page.crop(box).save(out, "PNG")
    return out.getvalue()


def review_pages(
    desk: Callable[[], ReviewDesk],
    reviewers: ReviewerDirectory,
    min_confidence: float,
    page_image: PageImage | None = None,
) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    templates = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]), auto_reload=False
    )

    def render(name: str, status: int = 200, **values: Any) -> HTMLResponse:
        return HTMLResponse(templates.get_template(name).render(status_names=STATUS_NAMES, **values), status)

    def sign_in_page(next_path: str, problem: str | None = None) -> HTMLResponse:
        return render("sign_in.html", 401, reviewer=None, next=next_path, problem=problem)

    def who(authorization: str | None, cookie: str | None) -> str | None:
        return reviewer_from(reviewers, authorization, cookie)

    @router.get("/review/static/{name}")
    async def static(name: str) -> FileResponse:
        if name not in STATIC_FILES:
            raise HTTPException(404)
        return FileResponse(HERE / "static" / name, media_type=STATIC_FILES[name])

    @router.post("/review/sign-in")
    async def sign_in(
        request: Request, token: Annotated[str, Form()], next: Annotated[str, Form()] = "/review"
    ) -> Response:
        if reviewers.authenticate(token) is None:
            return sign_in_page(next, "令牌无效")
        target = next if next.startswith("/review") else "/review"  # never off-site
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            REVIEWER_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
            max_age=12 * 3600,
        )
        return response

    @router.post("/review/sign-out")
    async def sign_out() -> Response:
        response = RedirectResponse("/review", status_code=303)
        response.delete_cookie(REVIEWER_COOKIE, path="/")
        return response

    @router.get("/review", response_class=HTMLResponse)
    async def queue_page(
        rule: str = "",
        unit: str = "",
        claimed: str = "",
        authorization: Annotated[str | None, Header()] = None,
        selfeval_reviewer: Annotated[str | None, Cookie()] = None,
    ) -> HTMLResponse:
        name = who(authorization, selfeval_reviewer)
        if name is None:
            return sign_in_page("/review")
        the_desk = desk()
        entries = await the_desk.queue()
        now = the_desk.clock()
        rules = sorted({r for entry in entries for r in entry.record.failing_rules()})
        shown = [
            entry
            for entry in entries
            if (not rule or rule in entry.record.failing_rules())
            and (not unit or unit in (entry.record.form.implementing_unit or ""))
            and (
                not claimed
                or (claimed == "free" and entry.claim is None)
                or (claimed == "mine" and entry.claim is not None and entry.claim.reviewer == name)
            )
        ]
        items = [
            {"record": entry.record, "claim": entry.claim, "age": age_text(entry.received_at, now)}
            for entry in shown
        ]
        chosen = {"rule": rule, "unit": unit, "claimed": claimed}
        return render(
            "queue.html", reviewer=name, items=items, total=len(entries), rules=rules, chosen=chosen
        )

    async def record_or_404(record_id: str) -> Record:
        try:
            return await desk().current(record_id)
        except ReviewRefusedError as refusal:
            raise HTTPException(404, refusal.detail) from None

    @router.get("/review/{record_id}", response_class=HTMLResponse)
    async def record_page(
        record_id: str,
        authorization: Annotated[str | None, Header()] = None,
        selfeval_reviewer: Annotated[str | None, Cookie()] = None,
    ) -> HTMLResponse:
        name = who(authorization, selfeval_reviewer)
        if name is None:
            return sign_in_page(f"/review/{record_id}" if is_record_id(record_id) else "/review")
        record = await record_or_404(record_id)
        the_desk = desk()
        claim = await the_desk.claims.holder(record_id, the_desk.clock())
        needing, every = field_views(record, min_confidence)
        return render(
            "record.html",
            reviewer=name,
            record=record,
            claim=claim,
            fields=needing,
            all_fields=every,
            pages=record.submission.pages or [1],
            history=history(record),
            notice="",
        )

    async def image_of(record: Record, page: int) -> bytes:
        submission_id = record.submission.sha256
        image = await page_image(submission_id, page) if page_image and submission_id else None
        if image is None:
            raise HTTPException(404, "the page image of this record was not kept")
        return image

    # Images are not pages: without a reviewer they are refused (401), not answered with a sign-in.
    signed_in = reviewer_required(reviewers)

    @router.get("/review/{record_id}/pages/{page}.png", dependencies=[Depends(signed_in)])
    async def page_png(record_id: str, page: int) -> Response:
        record = await record_or_404(record_id)
        # The record's own fields boxed: red where a check fails, amber where the reading was unsure.
        png = await asyncio.to_thread(
            draw_fields, await image_of(record, page), [record], page, min_confidence
        )
        return Response(png, media_type="image/png")

    @router.get("/review/{record_id}/crop.png", dependencies=[Depends(signed_in)])
    async def crop(record_id: str, path: str) -> Response:
        record = await record_or_404(record_id)
        location = record.provenance.field_locations.get(path)
        if location is None:
            raise HTTPException(404, f"no location for {path}")
        return Response(crop_png(await image_of(record, location.page), location), media_type="image/png")

    return router
