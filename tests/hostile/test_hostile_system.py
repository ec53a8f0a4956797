"""Hostile submissions into a running `selfeval up` (SeaweedFS as the S3 bucket, the API with a token),
then a good scan: each bad one gives exactly one rejected record, and the system still verifies forms.

The same run is the secrets check: it is configured with an API token, NATS credentials and an S3
secret key, and `up` generates a NATS password per part. After the failures that once leaked them
have been provoked (concurrent uploads of the same bytes, malformed events, refused calls, a token in
a URL, an upload over the limit), none of them may appear in any log, record or submission state. And
it checks that the embedded nats-server listens on loopback only and requires credentials.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import nats
import psutil
import pytest
from botocore.exceptions import ClientError

from scangen.compare import field_differences
from selfeval.contract import Record, Status
from selfeval.contract.messages import STATE_BUCKET
from selfeval.permissions import Role
from tests.hostile import badfiles
from tests.pipeline.records_stream import collect_records
from tests.pipeline.system import (
    S3_SECRET_KEY,
    RunningSystem,
    SeaweedFS,
    nats_accepts,
    s3_env,
    start_seaweedfs,
    start_system,
)

BUCKET = "selfeval-hostile"
API_TOKEN = "api-token-in-the-system-7d2e9"
NATS_PASSWORD = "nats-password-in-the-system-41bc"
NATS_AUTH = {"user": "selfeval", "password": NATS_PASSWORD}
MAX_UPLOAD = 2_000_000
# Each bad object, by its key in the bucket, and the reason its record must give.
BAD_OBJECTS: dict[str, tuple[bytes, str]] = {
    "inbox/empty.pdf": (b"", "the file is empty (0 bytes)"),
    "inbox/new\nline\ttab\r.pdf": (badfiles.encrypted_pdf(), "the PDF is encrypted"),
    "inbox/evil\x1b[31m\x07name.pdf": (badfiles.pdf_with_pages(1000), "the file has 1000 pages; at most 50"),
    "inbox/bomb.png": (badfiles.png_decompression_bomb(30_000), "page 1 is 30000×30000 = 900,000,000 pixels"),
    "inbox/frames.tiff": (badfiles.tiff_with_frames(300), "the file has 300 pages; at most 50"),
}
UPLOAD_NAME = "../../etc/passwd"
UPLOAD_REASON = "the PDF is broken or truncated"


@pytest.fixture(scope="module")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    server = start_seaweedfs(tmp_path_factory.mktemp("s3"), BUCKET)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, seaweedfs: SeaweedFS) -> Iterator[RunningSystem]:
    running = start_system(
        tmp_path_factory.mktemp("home"),
        {
            **s3_env(seaweedfs, BUCKET),
            "SELFEVAL_API_TOKEN": API_TOKEN,
            "SELFEVAL_NATS_USER": "selfeval",
            "SELFEVAL_NATS_PASSWORD": NATS_PASSWORD,
            "SELFEVAL_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
            "SELFEVAL_LOG_LEVEL": "DEBUG",  # the most talkative setting: the likeliest to leak
        },
    )
    yield running
    assert running.stop() == 0, running.logs()


@pytest.fixture(scope="module")
def records(system: RunningSystem, seaweedfs: SeaweedFS) -> list[Record]:
    """Drop the bad objects, upload a bad file through the API, then a good scan; wait for them all."""
    s3 = seaweedfs.client()
    with pytest.raises(ClientError, match="InvalidRequest"):  # the store itself refuses a dot-dot key
        s3.upload_fileobj(io.BytesIO(badfiles.encrypted_pdf()), BUCKET, "inbox/../../etc/passwd")
    for key, (data, _) in BAD_OBJECTS.items():
        s3.upload_fileobj(io.BytesIO(data), BUCKET, key)
    response = httpx.post(
        system.api_url + "/submissions",
        files={"file": (UPLOAD_NAME, badfiles.truncated_pdf())},
        headers={"Authorization": f"Bearer {API_TOKEN}"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    bad = collect_records(system.nats_url, expected=len(BAD_OBJECTS) + 1, timeout=180, linger=0)
    assert len(bad) == len(BAD_OBJECTS) + 1, [(r.submission.source, r.reason) for r in bad]
    # After every bad one has been dealt with: a good scan, named as if it were a PNG.
    s3.upload_fileobj(io.BytesIO(badfiles.scan_pdf(seed=11)), BUCKET, "inbox/good-scan.png")
    return collect_records(system.nats_url, expected=len(bad) + 1, timeout=300, linger=3)


def test_each_bad_submission_gives_exactly_one_rejected_record(records: list[Record]) -> None:
    rejected = [record for record in records if record.status == Status.rejected]
    by_source = {record.submission.source: record for record in rejected}
    assert len(by_source) == len(rejected) == len(BAD_OBJECTS) + 1, [r.submission.source for r in rejected]
    for key, (_, reason) in BAD_OBJECTS.items():
        assert key in by_source, (key, sorted(by_source))
        assert (by_source[key].reason or "").startswith(reason), (key, by_source[key].reason)
    (upload,) = [r for source, r in by_source.items() if source.startswith("inbox/uploads/")]
    assert upload.submission.source.endswith("-passwd") and ".." not in upload.submission.source
    assert (upload.reason or "").startswith(UPLOAD_REASON)


def test_a_good_scan_after_the_bad_ones_still_verifies(records: list[Record]) -> None:
    (good,) = [record for record in records if record.submission.source == "inbox/good-scan.png"]
    assert good.status == Status.verified, good.reason
    assert field_differences(good.form, badfiles.form()) == []


def test_records_in_the_outbox_match_and_keys_stay_under_the_outbox(
    records: list[Record], seaweedfs: SeaweedFS
) -> None:
    keys = [
        item["Key"]
        for item in seaweedfs.client().list_objects_v2(Bucket=BUCKET, Prefix="outbox/")["Contents"]
    ]
    assert sorted(keys) == sorted(
        f"outbox/{'rejected' if r.status == Status.rejected else 'verified'}/{r.record_id}.json"
        for r in records
    )


def outbox_texts(seaweedfs: SeaweedFS) -> list[str]:
    s3 = seaweedfs.client()
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix="outbox/")["Contents"]
    return [s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().decode() for item in listing]


@pytest.fixture(scope="module")
def generated_passwords(system: RunningSystem) -> list[str]:
    """The NATS password `up` generated for each part (gone from HOME once it stops)."""
    return [system.credential(role).password for role in Role]


@pytest.fixture(scope="module")
def provoked(system: RunningSystem, records: list[Record]) -> None:
    """Every failure that once put the token in a log, provoked through the running API."""
    api, auth = system.api_url, {"Authorization": f"Bearer {API_TOKEN}"}
    same = badfiles.truncated_pdf()  # the bytes the API already took: the same submission again

    def upload(_: int) -> httpx.Response:
        return httpx.post(f"{api}/submissions", files={"file": ("same.pdf", same)}, headers=auth, timeout=60)

    with ThreadPoolExecutor(30) as pool:
        responses = list(pool.map(upload, range(30)))
    assert [r.status_code for r in responses] == [202] * 30, [r.text for r in responses]
    assert len({r.json()["submission_id"] for r in responses}) == 1
    for body in (b'{"Records": 5}', b"{not json", b'{"Records": [{"s3": {"object": {}}}]}'):
        assert httpx.post(f"{api}/events/s3", content=body, headers=auth).status_code == 400
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": API_TOKEN}):
        assert httpx.get(f"{api}/records/{records[0].record_id}", headers=headers).status_code == 401
    assert httpx.get(f"{api}/records/{records[0].record_id}?token={API_TOKEN}").status_code == 400
    assert (
        httpx.get(f"{api}/submissions/{'0' * 64}?access_token={API_TOKEN}", headers=auth).status_code == 400
    )

    def too_much() -> Iterator[bytes]:
        yield b"--b\r\nContent-Disposition: form-data; name=file; filename=big.pdf\r\n\r\n%PDF-1.7 "
        for _ in range(2 * MAX_UPLOAD // 65536):
            yield b"x" * 65536

    oversized = httpx.post(
        f"{api}/submissions",
        content=too_much(),
        headers={**auth, "Content-Type": "multipart/form-data; boundary=b"},
        timeout=60,
    )
    assert oversized.status_code == 413
    two = [("file", ("a.pdf", same)), ("file", ("b.pdf", same))]
    assert httpx.post(f"{api}/submissions", files=two, headers=auth).status_code == 400
    time.sleep(3)  # the watcher has seen the re-uploads by now, the access log is written


def kv_values(system: RunningSystem) -> list[str]:
    async def read() -> list[str]:
        nc = await nats.connect(system.nats_url)
        try:
            kv = await nc.jetstream().key_value(STATE_BUCKET)
            return [((await kv.get(key)).value or b"").decode() for key in await kv.keys()]
        finally:
            await nc.close()

    return asyncio.run(read())


def test_no_secret_appears_in_any_log_record_or_state(
    system: RunningSystem,
    seaweedfs: SeaweedFS,
    records: list[Record],
    provoked: None,
    generated_passwords: list[str],
) -> None:
    texts: dict[str, str] = {"up.log": system.log_path.read_text(errors="replace")}
    for path in sorted([*(system.home / "logs").rglob("*"), system.home / "nats" / "nats-server.log"]):
        if path.is_file():
            texts[str(path.relative_to(system.home))] = path.read_text(errors="replace")
    for number, text in enumerate(outbox_texts(seaweedfs)):
        texts[f"record {number}"] = text
    texts["records stream"] = json.dumps([r.model_dump(mode="json") for r in records], ensure_ascii=False)
    for number, value in enumerate(kv_values(system)):
        texts[f"submission state {number}"] = value
    assert len(texts) > 8 and sum(map(len, texts.values())) > 10_000  # there was plenty to leak into
    assert '"GET /records/' in texts["logs/api.log"]  # the access log was on
    for secret in (API_TOKEN, NATS_PASSWORD, S3_SECRET_KEY, *generated_passwords):
        leaks = [name for name, text in texts.items() if secret in text]
        assert leaks == [], f"{secret[:6]}… found in {leaks}"


def test_log_files_are_their_owners_only(system: RunningSystem, provoked: None) -> None:
    logs = system.home / "logs"
    assert logs.stat().st_mode & 0o777 == 0o700
    files = [*logs.glob("*.log"), system.home / "nats" / "nats-server.log"]
    assert len(files) >= 6
    assert {path.name: path.stat().st_mode & 0o777 for path in files} == {path.name: 0o600 for path in files}


def test_every_part_did_its_work_within_its_nats_permissions(system: RunningSystem, provoked: None) -> None:
    server_log = (system.home / "nats" / "nats-server.log").read_text(errors="replace")
    violations = [line for line in server_log.splitlines() if "Violation" in line]
    assert violations == []


def listening_addresses(port: int) -> set[str]:
    found: set[str] = set()
    for connection in psutil.net_connections(kind="inet"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr and connection.laddr.port == port:
            found.add(connection.laddr.ip)
    return found


def port_of(url: str) -> int:
    port = httpx.URL(url.replace("nats://", "http://")).port
    assert port is not None
    return port


def test_the_embedded_nats_and_the_api_listen_on_loopback_only(system: RunningSystem) -> None:
    endpoints: dict[str, Any] = system.endpoints
    for name in ("nats_url", "api_url", "prefect_api_url"):
        addresses = listening_addresses(port_of(endpoints[name]))
        assert addresses == {"127.0.0.1"}, (name, addresses)


def test_the_embedded_nats_requires_credentials(
    system: RunningSystem, generated_passwords: list[str]
) -> None:
    url = system.endpoints["nats_url"]  # without the admin's credentials in it
    assert nats_accepts(url) is False
    assert nats_accepts(url, user="selfeval", password="not-the-password") is False
    assert nats_accepts(url, **NATS_AUTH) is True  # the configured user, as an admin
    ocr = system.credential(Role.ocr)
    assert nats_accepts(url, user=ocr.user, password=ocr.password) is True
    conf = system.home / "nats" / "auth.conf"
    assert conf.stat().st_mode & 0o777 == 0o600
    # Credentials reach the server in that file and the parts in theirs: never on a command line.
    command_lines = [
        " ".join(p.cmdline()) for p in psutil.Process(system.process.pid).children(recursive=True)
    ]
    assert len(command_lines) >= 6
    for secret in (NATS_PASSWORD, API_TOKEN, *generated_passwords):
        assert not [line for line in command_lines if secret in line]
