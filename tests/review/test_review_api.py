"""The review calls on the real API, wired to a real nats-server and a real outbox folder: a decision
makes one new version, published once and kept in exactly one outbox folder; every refused call leaves
the record exactly as it was."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from selfeval.api import ApiContext, create_app
from selfeval.bus.connection import connect
from selfeval.contract import Record, Status
from selfeval.embedded import EmbeddedNats
from selfeval.inbox import LocalInbox
from selfeval.outbox import LocalOutbox
from selfeval.publishing import publish_record
from selfeval.review.reviewers import parse_reviewers, token_hash
from services.scorer import score_record
from tests.bus.support import open_bus, record_ids, records_on
from tests.conftest import FIXTURES, load_fixture

API_TOKEN = "api-token-not-a-reviewer"
TOKENS = {"alice": "alice-token-1f3c", "bob": "bob-token-77a0"}
REVIEWERS = parse_reviewers("".join(f"{name}:{token_hash(t)}\n" for name, t in TOKENS.items()), "test")


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


class Desk:
    """The API under test, its outbox and the records stream, around one record that needs review."""

    def __init__(self, client: TestClient, outbox: Path, nats_url: str, record: Record) -> None:
        self.client, self.outbox, self.nats_url, self.record = client, outbox, nats_url, record
        self.id = record.record_id or ""

    def files(self) -> dict[str, bytes]:
        return {str(p.relative_to(self.outbox)): p.read_bytes() for p in sorted(self.outbox.rglob("*.json"))}

    def published(self, subject: str = "selfeval.records.>") -> list[str]:
        async def read() -> list[str]:
            nc, js = await open_bus(self.nats_url)
            try:
                return record_ids(await records_on(js, subject))
            finally:
                await nc.close()

        return asyncio.run(read())

    def post(self, action: str, body: dict[str, object] | None, who: str = "alice"):  # type: ignore[no-untyped-def]
        return self.client.post(f"/records/{self.id}/{action}", json=body, headers=auth(who))


def needs_review(name: str) -> Record:
    record = score_record(load_fixture(FIXTURES / "planted" / f"{name}.json"))
    assert record.status is Status.needs_review
    return record


def desk_for(
    record: Record, nats_server: EmbeddedNats, tmp_path: Path, claim_seconds: float = 60
) -> Iterator[Desk]:
    outbox = LocalOutbox(tmp_path / "outbox")

    async def first_version() -> None:
        nc, js = await open_bus(nats_server.url)
        try:
            await publish_record(js, outbox, record)
        finally:
            await nc.close()

    asyncio.run(first_version())
    context = ApiContext(
        inbox=LocalInbox(tmp_path / "inbox"),
        outbox=outbox,
        prefect_api_url=None,
        token=API_TOKEN,
        max_upload_bytes=4096,
        connect=lambda: connect(nats_server.url, "selfeval-api-test", initial_timeout=10),
        reviewers=REVIEWERS,
        claim_seconds=claim_seconds,
    )
    with TestClient(create_app(context)) as client:
        yield Desk(client, tmp_path / "outbox", nats_server.url, record)


@pytest.fixture
def desk(nats_server: EmbeddedNats, tmp_path: Path) -> Iterator[Desk]:
    yield from desk_for(needs_review("wrong_total_score"), nats_server, tmp_path)


def test_a_correction_verifies_the_record_and_it_is_published_once(desk: Desk) -> None:
    response = desk.post(
        "corrections",
        {
            "reviewer": "alice",
            "version": 1,
            "corrections": [{"path": "form.total_score", "value": "98.15"}],
            "note": "5, not 2",
        },
    )
    assert response.status_code == 200, response.text
    new = Record.model_validate_json(response.content)
    assert (new.status, new.record_version, new.form.total_score) == (
        Status.verified,
        2,
        new.form.total_score,
    )
    assert format(new.form.total_score, "f") == "98.15"
    assert new.provenance.corrections[0].reviewer == "alice"
    assert list(desk.files()) == [f"verified/{desk.id}.json"], "the superseded copy left review/"
    assert Record.model_validate_json(desk.files()[f"verified/{desk.id}.json"]) == new
    assert desk.published("selfeval.records.verified") == [f"{desk.id}.v2"]
    # The same decision sent again is stale: nothing more is written or published.
    again = desk.post(
        "corrections", {"version": 1, "corrections": [{"path": "form.total_score", "value": "98.15"}]}
    )
    assert again.status_code == 409
    assert desk.published() == [desk.id, f"{desk.id}.v2"]


def test_a_planted_error_confirmed_as_printed_ends_confirmed(desk: Desk) -> None:
    response = desk.post("confirm", {"version": 1, "note": "the unit's sum is wrong"}, who="bob")
    assert response.status_code == 200, response.text
    new = Record.model_validate_json(response.content)
    assert new.status is Status.confirmed
    assert new.failing_rules() == ["total_score"]
    assert [(c.reviewer, c.version) for c in new.provenance.confirmations] == [("bob", 2)]
    assert list(desk.files()) == [f"confirmed/{desk.id}.json"]
    assert desk.published("selfeval.records.confirmed") == [f"{desk.id}.v2"]
    assert desk.post("confirm", {"version": 2}).status_code == 409, "a settled record is not reviewed again"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"version": 2, "corrections": [{"path": "form.total_score", "value": "98.15"}]}, 409),
        ({"version": 1, "corrections": [{"path": "form.no_such", "value": "1"}]}, 422),
        ({"version": 1, "corrections": [{"path": "form.indicators[40].score", "value": "1"}]}, 422),
        ({"version": 1, "corrections": [{"path": "form.total_score", "value": "98,15 分"}]}, 422),
        ({"version": 1, "corrections": [{"path": "form.total_score", "value": 98.15}]}, 422),
        ({"version": 1, "corrections": []}, 422),
        ({"version": "1", "corrections": [{"path": "form.total_score", "value": "98.15"}]}, 422),
        (
            {
                "reviewer": "bob",
                "version": 1,
                "corrections": [{"path": "form.total_score", "value": "98.15"}],
            },
            403,
        ),
    ],
    ids=["stale", "unknown-path", "no-such-row", "not-a-number", "float", "empty", "version-text", "not-you"],
)
def test_refused_corrections_change_nothing(desk: Desk, body: dict[str, object], status: int) -> None:
    before = desk.files()
    response = desk.post("corrections", body)
    assert response.status_code == status, response.text
    assert response.json()["detail"]
    assert desk.files() == before
    assert desk.published() == [desk.id]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {API_TOKEN}"},
        {"Authorization": TOKENS["alice"]},
    ],
    ids=["none", "wrong", "api-token", "no-scheme"],
)
def test_every_review_call_needs_a_reviewers_token(desk: Desk, headers: dict[str, str]) -> None:
    before = desk.files()
    body = {"version": 1, "corrections": [{"path": "form.total_score", "value": "98.15"}]}
    for path, payload in (
        ("corrections", body),
        ("confirm", {"version": 1}),
        ("claim", None),
        ("release", None),
    ):
        assert (
            desk.client.post(f"/records/{desk.id}/{path}", json=payload, headers=headers).status_code == 401
        )
    assert desk.client.get("/review/queue", headers=headers).status_code == 401
    assert desk.client.get(f"/review/records/{desk.id}", headers=headers).status_code == 401
    assert desk.files() == before


def test_a_claimed_record_is_settled_only_by_its_holder_until_released(desk: Desk) -> None:
    assert desk.post("claim", None, who="alice").status_code == 200
    before = desk.files()
    correction = {"version": 1, "corrections": [{"path": "form.total_score", "value": "98.15"}]}
    assert desk.post("claim", None, who="bob").status_code == 409
    assert desk.post("corrections", correction, who="bob").status_code == 409
    assert desk.post("confirm", {"version": 1}, who="bob").status_code == 409
    assert desk.post("release", None, who="bob").status_code == 409
    assert desk.files() == before
    (item,) = desk.client.get("/review/queue", headers=auth("bob")).json()
    assert (item["record_id"], item["claimed_by"], item["failing_rules"], item["unchecked_rules"]) == (
        desk.id,
        "alice",
        ["total_score"],
        [],
    )
    assert desk.post("release", None, who="alice").status_code == 204
    assert desk.post("corrections", correction, who="bob").status_code == 200
    assert desk.client.get("/review/queue", headers=auth("bob")).json() == []


def test_a_claim_expires(nats_server: EmbeddedNats, tmp_path: Path) -> None:
    for short in desk_for(needs_review("wrong_total_score"), nats_server, tmp_path, claim_seconds=1):
        assert short.post("claim", None, who="alice").status_code == 200
        assert short.post("claim", None, who="bob").status_code == 409
        time.sleep(1.2)
        assert short.post("claim", None, who="bob").status_code == 200


def test_unknown_records_are_404(desk: Desk) -> None:
    for path, body in (("claim", None), ("confirm", {"version": 1})):
        response = desk.client.post(f"/records/{'0' * 24}/{path}", json=body, headers=auth("alice"))
        assert response.status_code == 404
    assert desk.client.get("/review/records/not-an-id", headers=auth("alice")).status_code == 404


def test_the_pages_need_a_signed_in_reviewer(desk: Desk) -> None:
    desk.client.cookies.clear()
    for path in ("/review", f"/review/{desk.id}"):
        page = desk.client.get(path)
        assert page.status_code == 401
        assert "复核人登录" in page.text
    refused = desk.client.post("/review/sign-in", data={"token": "wrong", "next": "/review"})
    assert refused.status_code == 401 and "令牌无效" in refused.text
    assert desk.client.get(f"/review/{desk.id}/pages/1.png").status_code == 401


def test_a_signed_in_reviewer_sees_the_queue_and_the_record(desk: Desk) -> None:
    signed_in = desk.client.post(
        "/review/sign-in", data={"token": TOKENS["alice"], "next": "/review"}, follow_redirects=False
    )
    assert signed_in.status_code == 303
    cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    queue = desk.client.get("/review")
    assert queue.status_code == 200
    assert f'href="/review/{desk.id}"' in queue.text and "total_score" in queue.text
    assert desk.client.get("/review", params={"rule": "grade"}).text.count(f"/review/{desk.id}") == 0
    page = desk.client.get(f"/review/{desk.id}")
    assert page.status_code == 200
    assert 'data-path="form.total_score"' in page.text and "总分" in page.text
    assert desk.client.get("/review/static/review.js").status_code == 200
    assert desk.client.get("/review/static/../pages.py").status_code == 404
    # The page's calls carry the cookie, not a header: the same API accepts it.
    desk.client.headers.pop("Authorization", None)
    response = desk.client.post(f"/records/{desk.id}/claim")
    assert response.status_code == 200 and response.json()["reviewer"] == "alice"


def test_each_version_is_made_by_one_decision_only(desk: Desk) -> None:
    """Another API process made version 2 first (its reservation is in the bucket): this one's
    decision on version 1 is refused and nothing is written."""

    async def reserve() -> None:
        from selfeval.review.claims import Claims

        nc, js = await open_bus(desk.nats_url)
        try:
            await Claims(js, 60).reserve_version(desk.id, 2, "bob")
        finally:
            await nc.close()

    asyncio.run(reserve())
    before = desk.files()
    response = desk.post(
        "corrections", {"version": 1, "corrections": [{"path": "form.total_score", "value": "98.15"}]}
    )
    assert response.status_code == 409 and "another decision" in response.json()["detail"]
    assert desk.files() == before
    assert desk.published() == [desk.id]
