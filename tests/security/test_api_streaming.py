"""`selfeval api` as a real process (uvicorn) on a real nats-server, driven over raw sockets where the
timing matters: the token is checked before the body is read, the size limit holds while bytes arrive
(chunked or not), uploads are received into temp files of their own that never outlive the request,
and concurrent uploads of the same bytes all succeed. Its log keeps no credential."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from selfeval.embedded import EmbeddedNats, free_port
from tests.hostile import badfiles

pytestmark = pytest.mark.integration

TOKEN = "api-token-streaming-test-61a9"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MAX_UPLOAD = 256 * 1024
SLACK = 64 * 1024  # selfeval.uploads.MULTIPART_SLACK: framing allowed around the largest file
BOUNDARY = "selfeval-test-boundary"
SCAN = badfiles.pdf_with_pages(1)


@dataclass
class ApiProcess:
    url: str
    port: int
    home: Path
    spool: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def inbox(self) -> Path:
        return self.home / "inbox"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    root = tmp_path_factory.mktemp("api")
    home, spool = root / "home", root / "spool"
    spool.mkdir()
    port = free_port()
    with EmbeddedNats(root / "nats") as nats:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SELFEVAL_", "NATS_"))}
        env.update(
            {
                "NATS_URL": nats.url,
                "SELFEVAL_HOME": str(home),
                "SELFEVAL_API_TOKEN": TOKEN,
                "SELFEVAL_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
                "SELFEVAL_LOG_LEVEL": "DEBUG",
                "TMPDIR": str(spool),  # uploads are received here while they stream in
            }
        )
        log_path = root / "api.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "selfeval", "api", "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        running = ApiProcess(f"http://127.0.0.1:{port}", port, home, spool, log_path, process)
        try:
            deadline = time.monotonic() + 60
            while not _healthy(running.url):
                assert process.poll() is None and time.monotonic() < deadline, running.log()
                time.sleep(0.3)
            yield running
        finally:
            process.terminate()
            process.wait(30)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


# --- a client that sends as slowly, and as little, as it likes -------------------------------------


def multipart(data: bytes, name: str = "file", filename: str = "scan.pdf") -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        f"Content-Type: application/pdf\r\n\r\n"
    ).encode() + data


def closing() -> bytes:
    return f"\r\n--{BOUNDARY}--\r\n".encode()


def open_upload(api: ApiProcess, headers: dict[str, str], chunked: bool, length: int = 0) -> socket.socket:
    lines = [
        "POST /submissions HTTP/1.1",
        f"Host: 127.0.0.1:{api.port}",
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
        "Transfer-Encoding: chunked" if chunked else f"Content-Length: {length}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    connection = socket.create_connection(("127.0.0.1", api.port), timeout=10)
    connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return connection


def send_chunk(connection: socket.socket, data: bytes) -> None:
    connection.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")


def answered(connection: socket.socket, within: float) -> str | None:
    """The status line, if the server answered within `within` seconds; None if it is still reading."""
    ready, _, _ = select.select([connection], [], [], within)
    if not ready:
        return None
    head = connection.recv(65536).decode("latin-1")
    return head.split("\r\n", 1)[0]


def send_until_answered(
    connection: socket.socket, body: bytes, chunked: bool, piece: int = 16 * 1024
) -> tuple[str | None, int]:
    """Send `body` piece by piece, never finishing the request; stop as soon as the server answers.
    Returns the status line (None: no answer, even after all of it) and how many bytes went out.

    Each piece waits a moment for an answer, so the count says what the server took, not what the
    kernel's socket buffers swallowed."""
    sent = 0
    for start in range(0, len(body), piece):
        status = answered(connection, 0.02)
        if status is not None:
            return status, sent
        chunk = body[start : start + piece]
        try:
            send_chunk(connection, chunk) if chunked else connection.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(chunk)
    return answered(connection, 10), sent


def spool_files(api: ApiProcess) -> list[str]:
    return sorted(path.name for path in api.spool.iterdir())


def wait_for_empty_spool(api: ApiProcess, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    while spool_files(api) and time.monotonic() < deadline:
        time.sleep(0.1)
    return spool_files(api)


# --- the tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}], ids=["no-token", "wrong-token"])
@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "with-length"])
def test_the_token_is_checked_before_the_body_is_read(
    api: ApiProcess, headers: dict[str, str], chunked: bool
) -> None:
    body = multipart(b"%PDF-1.7 " + b"x" * (MAX_UPLOAD // 2))
    # Declared within the limit, but only a first piece is ever sent: the answer cannot wait for the rest.
    connection = open_upload(api, headers, chunked, length=len(body) + len(closing()))
    with connection:
        if chunked:
            send_chunk(connection, body[:1024])
        else:
            connection.sendall(body[:1024])
        assert answered(connection, 10) == "HTTP/1.1 401 Unauthorized"
    assert wait_for_empty_spool(api) == []


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "length-understated"])
def test_the_size_limit_holds_while_the_bytes_arrive(api: ApiProcess, chunked: bool) -> None:
    body = multipart(b"%PDF-1.7 " + b"x" * (4 * MAX_UPLOAD))
    # Without chunking, a client can only lie by declaring more than it sends; here it declares the
    # whole body and the server must stop it at the limit, not at the declared length.
    declared = MAX_UPLOAD + SLACK  # at the limit: not refused by the declaration alone
    with open_upload(api, AUTH, chunked, length=declared) as connection:
        status, sent = send_until_answered(connection, body if chunked else body[:declared], chunked)
    if chunked:
        assert status == "HTTP/1.1 413 Request Entity Too Large"
        assert sent < 2 * (MAX_UPLOAD + SLACK), f"{sent} bytes taken before the refusal"
    else:
        assert status == "HTTP/1.1 413 Request Entity Too Large", status
    assert wait_for_empty_spool(api) == []


def inbox_files(api: ApiProcess) -> list[str]:
    return sorted(p.relative_to(api.inbox).as_posix() for p in api.inbox.rglob("*") if p.is_file())


def test_an_upload_abandoned_half_way_leaves_no_temp_file(api: ApiProcess) -> None:
    before = inbox_files(api)
    with open_upload(api, AUTH, chunked=True) as connection:
        send_chunk(connection, multipart(b"%PDF-1.7 " + b"y" * (MAX_UPLOAD // 2)))
        deadline = time.monotonic() + 10
        while not spool_files(api) and time.monotonic() < deadline:  # it is being received...
            time.sleep(0.05)
        assert spool_files(api), "the upload was not being spooled"
    # ...and the client is gone.
    assert wait_for_empty_spool(api) == []
    assert inbox_files(api) == before


def test_concurrent_uploads_of_the_same_bytes_all_succeed_as_one_submission(api: ApiProcess) -> None:
    data = SCAN + os.urandom(16)

    def upload(_: int) -> httpx.Response:
        return httpx.post(
            api.url + "/submissions", files={"file": ("same.pdf", data)}, headers=AUTH, timeout=60
        )

    with ThreadPoolExecutor(30) as pool:
        responses = list(pool.map(upload, range(30)))
    assert [r.status_code for r in responses] == [202] * 30, [
        r.text for r in responses if r.status_code != 202
    ]
    assert len({r.json()["submission_id"] for r in responses}) == 1
    (source,) = {r.json()["source"] for r in responses}
    assert (api.inbox / source).read_bytes() == data
    assert [name for name in inbox_files(api) if "same.pdf" in name] == [source]  # no temp file beside it
    assert wait_for_empty_spool(api) == []


@pytest.mark.parametrize(
    ("parts", "status", "detail"),
    [
        ([("file", SCAN), ("file", SCAN + b"2")], 400, "more than one 'file' part: upload each scan in a"),
        ([("file", SCAN), ("comment", b"hello")], 400, "unexpected part 'comment': an upload is one part"),
        ([("scan", SCAN)], 400, "unexpected part 'scan': an upload is one part named 'file'"),
        ([("file", b"")], 400, "empty upload"),
        ([("file", b"GIF89a" + b"\x00" * 32)], 415, "not a PDF, PNG, JPEG or TIFF file"),
    ],
    ids=["two-files", "extra-field", "wrong-name", "empty", "gif"],
)
def test_an_upload_is_one_part_named_file_or_it_is_refused_saying_why(
    api: ApiProcess, parts: list[tuple[str, bytes]], status: int, detail: str
) -> None:
    files = [(name, (f"{n}.pdf", data)) for n, (name, data) in enumerate(parts)]
    response = httpx.post(api.url + "/submissions", files=files, headers=AUTH, timeout=30)
    assert response.status_code == status and response.json()["detail"].startswith(detail), response.text
    assert wait_for_empty_spool(api) == []


def test_a_body_that_is_not_multipart_is_refused(api: ApiProcess) -> None:
    response = httpx.post(
        api.url + "/submissions", content=SCAN, headers={**AUTH, "Content-Type": "application/pdf"}
    )
    assert response.status_code == 415
    assert "multipart/form-data" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"Records": 5}', "Records: Input should be a valid list"),
        (b'{"Records": [{"s3": {}}]}', "Records.0.s3.object: Field required"),
        (
            b'{"Records": [{"s3": {"object": {"key": 7}}}]}',
            "Records.0.s3.object.key: Input should be a valid string",
        ),
        (b"[1, 2]", "body: Input should be a valid dictionary"),
        (b"not json", "not JSON"),
    ],
    ids=["records-not-a-list", "no-object", "key-not-text", "a-list", "not-json"],
)
def test_a_malformed_bucket_event_gets_400_with_the_reason(api: ApiProcess, body: bytes, reason: str) -> None:
    response = httpx.post(api.url + "/events/s3", content=body, headers=AUTH, timeout=10)
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(f"not an S3 event notification: {reason}")


def test_a_bucket_event_is_accepted_and_an_oversized_one_refused(api: ApiProcess) -> None:
    event = {"Records": [{"s3": {"object": {"key": "inbox/a.pdf"}}}], "EventName": "s3:ObjectCreated:Put"}
    response = httpx.post(api.url + "/events/s3", json=event, headers=AUTH, timeout=10)
    assert response.json() == {"accepted": ["inbox/a.pdf"]}
    assert httpx.post(api.url + "/events/s3", json={}, headers=AUTH).json() == {
        "accepted": []
    }  # a test event

    def endless() -> Iterator[bytes]:
        yield b'{"Records": ['
        for _ in range(10_000):
            yield b'{"s3": {"object": {"key": "' + b"k" * 1000 + b'"}}},'

    response = httpx.post(api.url + "/events/s3", content=endless(), headers=AUTH, timeout=30)
    assert response.status_code == 413


@pytest.mark.parametrize("parameter", ["token", "access_token", "api_key", "TOKEN"])
def test_a_token_in_the_query_string_is_refused_and_never_logged(api: ApiProcess, parameter: str) -> None:
    for path in ("/records/" + "0" * 24, "/healthz", "/submissions/" + "0" * 64):
        response = httpx.get(f"{api.url}{path}?{parameter}={TOKEN}", timeout=10)
        assert response.status_code == 400, (path, response.text)
        assert "Authorization" in response.json()["detail"]
    time.sleep(0.5)  # the access log line is written after the response
    log = api.log()
    assert f"?{parameter}=[redacted]" in log
    assert TOKEN not in log


def test_the_api_log_is_free_of_the_token_after_all_of_the_above(api: ApiProcess) -> None:
    # Refused and accepted calls alike, with the token in a header.
    httpx.get(api.url + "/records/" + "1" * 24, headers=AUTH)
    httpx.get(api.url + "/records/" + "1" * 24, headers={"Authorization": f"Bearer {TOKEN}x"})
    log = api.log()
    assert '"GET /records/' in log  # the access log is on, so there was something to leak into
    assert TOKEN not in log
    assert json.dumps(TOKEN)[1:-1] not in log
