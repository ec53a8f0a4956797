"""`GET /submissions/{id}/pages/{n}.png`: the page the OCR kept, served by the real API connected to a
real nats-server as the API's own NATS user, plain or with the record's fields boxed."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from scangen import scan_forms
from selfeval import credentials
from selfeval.api import ApiContext, create_app
from selfeval.bus.connection import connect
from selfeval.bus.state import create_state
from selfeval.bus.topology import prepare_topology
from selfeval.contract import FieldLocation, Record, Status, record_id_for
from selfeval.contract.messages import SCANS_BUCKET, SubmissionState, page_image_object
from selfeval.embedded import EmbeddedNats
from selfeval.inbox import LocalInbox
from selfeval.outbox import LocalOutbox
from selfeval.page_boxes import DOUBTFUL, FAILING
from selfeval.permissions import Role, inbox_prefix
from services.parser import parse_submission
from services.scorer import score_record
from tests.bus.support import run
from tests.conftest import REAL_FORMS, load_fixture
from tests.parser.truth_tables import page_tables

pytestmark = pytest.mark.integration

TOKEN = "page-images-token-7d1e"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SUBMISSION = "a" * 64
MIN_CONFIDENCE = 0.8


@dataclass
class Kept:
    pngs: list[bytes]
    """page 1, 2, …"""
    record: Record


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def nats_server(home: Path) -> Iterator[EmbeddedNats]:
    """A nats-server with the parts' accounts, so the API reads the bucket as its own user."""
    generated = credentials.generate(home)
    with EmbeddedNats(home / "nats", extra_args=["-c", str(credentials.server_config_path(home))]) as server:
        admin = generated[Role.admin]
        run(prepare_topology(server.url, 1, user=admin.user, password=admin.password))
        yield server


async def connect_as(server: EmbeddedNats, home: Path, role: Role):  # type: ignore[no-untyped-def]
    credential = credentials.load(home, role)
    assert credential is not None
    return await connect(
        server.url,
        f"selfeval-{role.value}-test",
        initial_timeout=10,
        user=credential.user,
        password=credential.password,
        inbox_prefix=inbox_prefix(role),
    )


def a_form_with_a_wrong_total() -> tuple[list[bytes], Record]:
    """A drawn form whose 总分 is 0.10 off, its pages as grey PNGs and its scored record (read from the
    generator's truth: its places are the drawn cells')."""
    form = load_fixture(REAL_FORMS[1]).form
    assert form.total_score is not None
    form.total_score += Decimal("0.10")
    pages = scan_forms([form], quality="clean", dpi=150, seed=5)
    pngs = []
    for page in pages:
        buffer = io.BytesIO()
        page.image.convert("L").save(buffer, format="PNG")
        pngs.append(buffer.getvalue())
    (record,) = parse_submission(page_tables(pages, sha256=SUBMISSION, source="scan.pdf"))
    record = score_record(record)
    record.record_id = record_id_for(SUBMISSION, 1, record.form)
    record.provenance.field_confidence["form.project_name"] = 0.5  # OCR unsure of a field no check fails
    return pngs, record


@pytest.fixture(scope="module")
def kept(nats_server: EmbeddedNats, home: Path) -> Kept:
    """What the pipeline leaves behind: the page in the scans bucket (put by the OCR's user), the
    record in the outbox and the submission's state naming it."""
    pngs, record = a_form_with_a_wrong_total()
    assert len(pngs) == 2
    assert record.status is Status.needs_review and "form.total_score" in record.fields_needing_review()
    LocalOutbox(home / "outbox").write_record(record)

    async def store() -> None:
        ocr = await connect_as(nats_server, home, Role.ocr)
        scans = await ocr.jetstream().object_store(SCANS_BUCKET)
        for number, png in enumerate(pngs, start=1):
            await scans.put(page_image_object(SUBMISSION, number), png)
        await ocr.close()
        watcher = await connect_as(nats_server, home, Role.watcher)
        state = SubmissionState(submission_id=SUBMISSION, source="scan.pdf", record_ids=[record.record_id])
        assert await create_state(watcher.jetstream(), state)
        await watcher.close()

    run(store())
    return Kept(pngs, record)


@pytest.fixture(scope="module")
def client(nats_server: EmbeddedNats, home: Path, kept: Kept) -> Iterator[TestClient]:
    context = ApiContext(
        inbox=LocalInbox(home / "inbox"),
        outbox=LocalOutbox(home / "outbox"),
        prefect_api_url=None,
        token=TOKEN,
        max_upload_bytes=1024,
        connect=lambda: connect_as(nats_server, home, Role.api),
        min_confidence=MIN_CONFIDENCE,
    )
    with TestClient(create_app(context)) as test_client:
        yield test_client


def image_of(response) -> Image.Image:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return Image.open(io.BytesIO(response.content)).convert("RGB")


def pixel_box(location: FieldLocation, size: tuple[int, int]) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = location.box
    return round(x0 * size[0]), round(y0 * size[1]), round(x1 * size[0]), round(y1 * size[1])


def test_each_kept_page_is_served_as_it_was_stored(client: TestClient, kept: Kept) -> None:
    for number, png in enumerate(kept.pngs, start=1):
        response = client.get(f"/submissions/{SUBMISSION}/pages/{number}.png", headers=AUTH)
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/png"
        assert response.content == png


def test_boxes_mark_a_failing_field_red_and_a_doubtful_one_amber(client: TestClient, kept: Kept) -> None:
    locations = kept.record.provenance.field_locations
    total = locations["form.total_score"]
    plain, boxed = page_plain_and_boxed(client, total.page)
    x0, y0, x1, y1 = pixel_box(total, plain.size)
    inside = (x0, y0, x1, y1)
    assert boxed.crop(inside).tobytes() != plain.crop(inside).tobytes()  # tinted where the box is
    red = boxed.getpixel((x0 - 1, (y0 + y1) // 2))  # the edge, just outside the cell
    assert red == FAILING and plain.getpixel((x0 - 1, (y0 + y1) // 2)) != FAILING
    r, g, b = boxed.getpixel(((x0 + x1) // 2, y0 + 2))  # inside: the page, tinted red
    assert r > g + 20 and r > b + 20

    # Away from every field the page is untouched.
    assert boxed.crop((0, 0, 40, 40)).tobytes() == plain.crop((0, 0, 40, 40)).tobytes()

    doubtful = locations["form.project_name"]
    plain, boxed = page_plain_and_boxed(client, doubtful.page)
    ax0, ay0, _, ay1 = pixel_box(doubtful, plain.size)
    assert boxed.getpixel((ax0 - 1, (ay0 + ay1) // 2)) == DOUBTFUL


def page_plain_and_boxed(client: TestClient, page: int) -> tuple[Image.Image, Image.Image]:
    plain = image_of(client.get(f"/submissions/{SUBMISSION}/pages/{page}.png", headers=AUTH))
    boxed = image_of(client.get(f"/submissions/{SUBMISSION}/pages/{page}.png?boxes=1", headers=AUTH))
    assert boxed.size == plain.size
    return plain, boxed


@pytest.mark.parametrize(
    "path",
    [f"/submissions/{SUBMISSION}/pages/3.png", f"/submissions/{'b' * 64}/pages/1.png"],
    ids=["page-not-kept", "unknown-submission"],
)
def test_a_page_not_kept_is_404(client: TestClient, path: str) -> None:
    assert client.get(path, headers=AUTH).status_code == 404
    assert client.get(path + "?boxes=1", headers=AUTH).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        f"/submissions/{'A' * 64}/pages/1.png",  # ids are lowercase hex
        "/submissions/xyz/pages/1.png",
        f"/submissions/{SUBMISSION}/pages/0.png",
        f"/submissions/{SUBMISSION}/pages/-1.png",
        f"/submissions/{SUBMISSION}/pages/one.png",
        f"/submissions/{SUBMISSION}/pages/1.5.png",
    ],
    ids=["upper-case-id", "short-id", "page-0", "negative-page", "page-word", "page-fraction"],
)
def test_a_malformed_id_or_page_is_400(client: TestClient, path: str) -> None:
    assert client.get(path, headers=AUTH).status_code == 400


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {TOKEN}"}],
    ids=["missing", "wrong", "basic"],
)
def test_the_page_needs_the_token(client: TestClient, headers: dict[str, str]) -> None:
    for query in ("", "?boxes=1"):
        response = client.get(f"/submissions/{SUBMISSION}/pages/1.png{query}", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] != "image/png"
