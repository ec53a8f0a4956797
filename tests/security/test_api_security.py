"""The HTTP API's guards, on the real app wired to a real nats-server and a real inbox folder."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from selfeval.api import ApiContext, create_app
from selfeval.bus.connection import connect
from selfeval.embedded import EmbeddedNats
from selfeval.inbox import LocalInbox
from selfeval.outbox import LocalOutbox
from tests.hostile import badfiles

TOKEN = "api-token-under-test-5c1f"
MAX_UPLOAD = 4096
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SMALL_PDF = badfiles.pdf_with_pages(1)


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    with EmbeddedNats(tmp_path_factory.mktemp("nats")) as server:
        yield server


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def client(nats_server: EmbeddedNats, home: Path) -> Iterator[TestClient]:
    context = ApiContext(
        inbox=LocalInbox(home / "inbox"),
        outbox=LocalOutbox(home / "outbox"),
        prefect_api_url=None,
        token=TOKEN,
        max_upload_bytes=MAX_UPLOAD,
        connect=lambda: connect(nats_server.url, "selfeval-api-test", initial_timeout=10),
    )
    with TestClient(create_app(context)) as test_client:
        yield test_client


def upload(
    client: TestClient, data: bytes, filename: str = "scan.pdf", headers: dict[str, str] | None = None
):  # type: ignore[no-untyped-def]
    return client.post(
        "/submissions", files={"file": (filename, data)}, headers=AUTH if headers is None else headers
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
    ],
    ids=["missing", "wrong", "no-scheme", "basic"],
)
def test_every_guarded_route_refuses_without_the_token(client: TestClient, headers: dict[str, str]) -> None:
    assert upload(client, SMALL_PDF, headers=headers).status_code == 401
    assert client.get("/submissions/" + "0" * 64, headers=headers).status_code == 401
    assert client.get("/records/" + "0" * 16, headers=headers).status_code == 401
    assert client.post("/events/s3", json={"Records": []}, headers=headers).status_code == 401


def test_health_needs_no_token_and_the_right_token_is_accepted(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert upload(client, SMALL_PDF).status_code == 202


def test_an_upload_over_the_limit_is_refused_with_413(client: TestClient, home: Path) -> None:
    before = sorted((home / "inbox").rglob("*"))
    response = upload(client, SMALL_PDF + b"\x00" * (MAX_UPLOAD + 1))
    assert response.status_code == 413
    assert sorted((home / "inbox").rglob("*")) == before


def test_a_body_declared_too_big_is_refused_before_it_is_read(client: TestClient) -> None:
    response = client.post(
        "/submissions", content=b"x" * 100_000, headers={**AUTH, "Content-Type": "application/octet-stream"}
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"<html><script>alert(1)</script></html>", "scan.pdf"),  # HTML named like a PDF
        (b"PK\x03\x04" + b"\x00" * 64, "form.png"),  # a ZIP (an .xlsx) named like a PNG
        (b"MZ\x90\x00" + b"\x00" * 64, "form.tiff"),  # a Windows executable
    ],
    ids=["html", "zip", "exe"],
)
def test_content_type_comes_from_magic_bytes(client: TestClient, data: bytes, filename: str) -> None:
    assert upload(client, data, filename).status_code == 415


def test_empty_upload_is_refused(client: TestClient) -> None:
    assert upload(client, b"").status_code == 400


@pytest.mark.parametrize(
    ("filename", "safe_tail"),
    [
        ("../../etc/passwd", "-passwd"),
        ("..\\..\\boot.ini", "-boot.ini"),
        ("scan\x00\n\x1b[2J.pdf", "_2J.pdf"),
    ],
    ids=["dotdot", "backslashes", "control-characters"],
)
def test_an_uploaded_file_name_never_leaves_the_inbox(
    client: TestClient, home: Path, tmp_path: Path, filename: str, safe_tail: str
) -> None:
    data = SMALL_PDF + os.urandom(8)  # unique bytes, so a unique submission
    response = upload(client, data, filename)
    assert response.status_code == 202, response.text
    source = response.json()["source"]
    assert source.startswith("uploads/") and source.endswith(safe_tail)
    assert ".." not in source and all(ch.isprintable() for ch in source)
    stored = (home / "inbox" / source).resolve()
    assert stored.is_relative_to((home / "inbox").resolve())
    assert stored.read_bytes() == data


@pytest.mark.unit
def test_the_api_will_not_bind_beyond_loopback_without_a_token(home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SELFEVAL_", "NATS_"))}
    env["SELFEVAL_HOME"] = str(home)
    result = subprocess.run(
        [sys.executable, "-m", "selfeval", "api", "--host", "0.0.0.0", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "SELFEVAL_API_TOKEN" in lines[0], result.stderr
