"""NATS least privilege on a real nats-server configured as `selfeval up` configures its embedded one
(credentials generated per role, accounts from `selfeval.permissions`): nobody connects without
credentials, and each part's user is refused what is not its job, without leaving a trace.

The parts doing their jobs under these permissions is what the system tests show (they run `selfeval
up`, whose server log must show no permission violation); here, what must not work does not.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import nats
import nats.errors
import pytest
import yaml
from nats.aio.client import Client

from selfeval import credentials
from selfeval.bus.handoff import MSG_ID
from selfeval.bus.topology import prepare_topology
from selfeval.contract.messages import (
    RECORDS_STREAM,
    REVIEWS_BUCKET,
    SCANS_BUCKET,
    SCANS_STREAM,
    STATE_BUCKET,
    WORK_STREAM,
    Stage,
    SubmissionState,
    durable_name,
    page_image_object,
)
from selfeval.contract.record import Record
from selfeval.embedded import EmbeddedNats
from selfeval.permissions import Role, deploy_accounts_config, inbox_prefix, password_variable, user_name
from tests.bus.support import run
from tests.pipeline.system import nats_accepts

pytestmark = pytest.mark.integration

SUBMISSION = "9" * 64
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[EmbeddedNats]:
    generated = credentials.generate(home)
    config = credentials.server_config_path(home)
    with EmbeddedNats(home / "nats", extra_args=["-c", str(config)]) as nats_server:
        admin = generated[Role.admin]
        run(prepare_topology(nats_server.url, 1, user=admin.user, password=admin.password))
        yield nats_server


async def connect_as(server: EmbeddedNats, home: Path, role: Role) -> Client:
    credential = credentials.load(home, role)
    assert credential is not None
    return await nats.connect(
        server.url,
        user=credential.user,
        password=credential.password,
        inbox_prefix=inbox_prefix(role),
        allow_reconnect=False,
        error_cb=_quiet,
    )


async def _quiet(_error: Exception) -> None:
    """Permission violations are reported here; the tests look at their effect instead."""


async def refused(action: Callable[[], Awaitable[object]]) -> bool:
    """True when the server dropped the request: a denied publish gets no answer at all."""
    try:
        await action()
    except (TimeoutError, nats.errors.TimeoutError):
        return True
    return False


async def stream_messages(server: EmbeddedNats, home: Path, stream: str) -> int:
    admin = await connect_as(server, home, Role.admin)
    try:
        return (await admin.jetstream().stream_info(stream)).state.messages
    finally:
        await admin.close()


def test_a_client_without_credentials_or_with_wrong_ones_cannot_connect(
    server: EmbeddedNats, home: Path
) -> None:
    ocr = credentials.load(home, Role.ocr)
    assert ocr is not None
    assert nats_accepts(server.url) is False
    assert nats_accepts(server.url, user=ocr.user, password="not-" + ocr.password) is False
    assert nats_accepts(server.url, user=ocr.user, password=ocr.password) is True


def test_the_generated_credentials_are_owner_only(server: EmbeddedNats, home: Path) -> None:
    folder = credentials.credentials_dir(home)
    assert folder.stat().st_mode & 0o777 == 0o700
    files = sorted(folder.iterdir())
    assert [f.stem for f in files] == sorted(role.value for role in Role)
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in files)
    assert credentials.server_config_path(home).stat().st_mode & 0o777 == 0o600


RECORD = Record.rejected(SUBMISSION, "inbox/x.pdf", [], "forged").model_dump_json().encode()
DONE = SubmissionState(submission_id=SUBMISSION, source="inbox/x.pdf").model_dump_json().encode()


@pytest.mark.parametrize(
    "role", [Role.ocr, Role.parser, Role.watcher, Role.client], ids=lambda role: role.value
)
def test_only_the_scorer_and_the_api_publish_records(server: EmbeddedNats, home: Path, role: Role) -> None:
    async def scenario() -> tuple[bool, int, int]:
        before = await stream_messages(server, home, RECORDS_STREAM)
        client = await connect_as(server, home, role)
        try:
            js = client.jetstream()
            denied = await refused(lambda: js.publish("selfeval.records.verified", RECORD, timeout=1))
        finally:
            await client.close()
        return denied, before, await stream_messages(server, home, RECORDS_STREAM)

    denied, before, after = run(scenario())
    assert denied and after == before


@pytest.mark.parametrize("role", [Role.scorer, Role.api], ids=lambda role: role.value)
def test_the_scorer_and_the_api_may_publish_records(server: EmbeddedNats, home: Path, role: Role) -> None:
    """The scorer publishes what the pipeline gives; the API the versions a reviewer settles."""

    async def scenario() -> int:
        client = await connect_as(server, home, role)
        try:
            ack = await client.jetstream().publish("selfeval.records.rejected", RECORD, timeout=5)
        finally:
            await client.close()
        return ack.seq

    assert run(scenario()) >= 1  # the control: the same publish, by its owner, is stored


@pytest.mark.parametrize("role", [Role.api, Role.client], ids=lambda role: role.value)
def test_readers_cannot_write_submission_state(server: EmbeddedNats, home: Path, role: Role) -> None:
    """The hostile run wrote a `done` state for a file's SHA-256 beforehand, so its upload never gave a
    record: the API and clients read state, they cannot write it."""

    async def scenario() -> tuple[bool, bool]:
        client = await connect_as(server, home, role)
        try:
            js = client.jetstream()
            kv = await js.key_value(STATE_BUCKET)
            denied = await refused(lambda: js.publish(f"$KV.{STATE_BUCKET}.{SUBMISSION}", DONE, timeout=1))
            try:
                await kv.get(SUBMISSION)
                written = True
            except nats.js.errors.KeyNotFoundError:
                written = False
        finally:
            await client.close()
        return denied, written

    assert run(scenario()) == (True, False)


@pytest.mark.parametrize("role", [Role.watcher, Role.scorer, Role.client], ids=lambda role: role.value)
def test_only_the_api_writes_review_claims(server: EmbeddedNats, home: Path, role: Role) -> None:
    async def scenario() -> tuple[bool, int]:
        client = await connect_as(server, home, role)
        try:
            claim = b'{"reviewer": "mallory", "until": "2999-01-01T00:00:00Z"}'
            denied = await refused(
                lambda: client.jetstream().publish(f"$KV.{REVIEWS_BUCKET}.{'0' * 24}", claim, timeout=1)
            )
        finally:
            await client.close()
        owner = await connect_as(server, home, Role.api)
        try:
            seq = (await owner.jetstream().publish(f"$KV.{REVIEWS_BUCKET}.{'1' * 24}", b"{}", timeout=5)).seq
        finally:
            await owner.close()
        return denied, seq

    denied, seq = run(scenario())
    assert denied and seq >= 1  # refused, while the API's own write is stored


@pytest.mark.parametrize(
    ("role", "subject"),
    [
        (Role.api, "selfeval.work.ocr"),  # only the watcher submits
        (Role.client, "selfeval.work.ocr"),
        (Role.ocr, "selfeval.work.ocr"),
        (Role.parser, "selfeval.work.parse"),  # no stage feeds itself or an earlier one
        (Role.scorer, "selfeval.work.parse"),
        (Role.watcher, "selfeval.work.publish"),
        (Role.api, "selfeval.work.publish"),
    ],
    ids=lambda value: value.value if isinstance(value, Role) else value,
)
def test_each_part_hands_work_only_where_its_stage_leads(
    server: EmbeddedNats, home: Path, role: Role, subject: str
) -> None:
    async def scenario() -> tuple[bool, int, int]:
        before = await stream_messages(server, home, WORK_STREAM)
        client = await connect_as(server, home, role)
        try:
            js = client.jetstream()
            message = b'{"submission_id": "' + SUBMISSION.encode() + b'", "source": "x", "size": 1}'
            denied = await refused(lambda: js.publish(subject, message, timeout=1, headers={MSG_ID: subject}))
        finally:
            await client.close()
        return denied, before, await stream_messages(server, home, WORK_STREAM)

    denied, before, after = run(scenario())
    assert denied and after == before


@pytest.mark.parametrize(
    ("role", "request_subject"),
    [
        (Role.ocr, f"$JS.API.STREAM.DELETE.{WORK_STREAM}"),
        (Role.scorer, f"$JS.API.STREAM.PURGE.{RECORDS_STREAM}"),
        (Role.watcher, f"$JS.API.STREAM.UPDATE.{WORK_STREAM}"),
        (Role.parser, "$JS.API.STREAM.CREATE.CAPTURE_EVERYTHING"),
        (Role.api, f"$JS.API.CONSUMER.MSG.NEXT.{WORK_STREAM}.{durable_name(Stage.ocr)}"),
        (Role.parser, f"$JS.API.CONSUMER.MSG.NEXT.{WORK_STREAM}.selfeval-ocr"),  # another stage's queue
        # Its own consumer, bound to another stage's queue: by name with the filter, or the legacy way.
        (Role.ocr, f"$JS.API.CONSUMER.CREATE.{WORK_STREAM}.selfeval-ocr.selfeval.work.publish"),
        (Role.ocr, f"$JS.API.CONSUMER.DURABLE.CREATE.{WORK_STREAM}.selfeval-ocr"),
        (Role.client, f"$JS.API.STREAM.PURGE.{SCANS_STREAM}"),
    ],
    ids=lambda value: value.value if isinstance(value, Role) else value.split(".", 3)[-1],
)
def test_the_jetstream_admin_api_and_other_stages_queues_are_out_of_reach(
    server: EmbeddedNats, home: Path, role: Role, request_subject: str
) -> None:
    async def scenario() -> bool:
        client = await connect_as(server, home, role)
        try:
            return await refused(lambda: client.request(request_subject, b"{}", timeout=1))
        finally:
            await client.close()

    assert run(scenario())


def test_no_part_can_read_another_parts_replies(server: EmbeddedNats, home: Path) -> None:
    """Replies (JetStream deliveries, KV reads) go to the requester's own inbox prefix; a part that
    subscribes to another's prefix, or to every inbox, gets nothing. The admin, as a control, does."""

    async def overheard(listener_role: Role, pattern: str) -> int:
        listener = await connect_as(server, home, listener_role)
        speaker = await connect_as(server, home, Role.api)
        heard: list[bytes] = []

        async def note(msg: nats.aio.msg.Msg) -> None:
            heard.append(msg.data)

        try:
            await listener.subscribe(pattern, cb=note)
            await listener.flush()
            kv = await speaker.jetstream().key_value(STATE_BUCKET)
            for _ in range(3):
                with contextlib.suppress(nats.js.errors.KeyNotFoundError):
                    await asyncio.wait_for(kv.get("no-such-key"), 2)
            await asyncio.sleep(0.5)
        finally:
            await speaker.close()
            await listener.close()
        return len(heard)

    assert run(overheard(Role.parser, f"{inbox_prefix(Role.api)}.>")) == 0
    assert run(overheard(Role.parser, "_INBOX.>")) == 0
    assert run(overheard(Role.watcher, ">")) == 0
    assert run(overheard(Role.admin, f"{inbox_prefix(Role.api)}.>")) > 0


def test_the_deploy_accounts_are_the_ones_the_code_gives(tmp_path: Path) -> None:
    checked_in = (DEPLOY / "nats-accounts.conf").read_text()
    assert checked_in == deploy_accounts_config(), (
        "deploy/nats-accounts.conf is stale: run `selfeval nats-accounts > deploy/nats-accounts.conf`"
    )
    (config_map,) = [
        d
        for d in yaml.safe_load_all((DEPLOY / "k8s" / "10-nats.yaml").read_text())
        if d["kind"] == "ConfigMap"
    ]
    assert config_map["data"]["nats-accounts.conf"] == checked_in
    assert config_map["data"]["nats.conf"] == (DEPLOY / "nats-cluster.conf").read_text()


def part_users_in_deploy() -> dict[str, dict[str, str]]:
    """{where: {part: the NATS user it connects as}} for compose and Kubernetes."""
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    in_compose = {
        name: service["environment"]["SELFEVAL_NATS_USER"]
        for name, service in compose.items()
        if "SELFEVAL_NATS_USER" in (service.get("environment") or {})
    }
    in_k8s = {}
    for document in yaml.safe_load_all((DEPLOY / "k8s" / "30-selfeval.yaml").read_text()):
        if document["kind"] in ("Deployment", "Job"):
            (container,) = document["spec"]["template"]["spec"]["containers"]
            env = {entry["name"]: entry for entry in container.get("env", [])}
            secret = env["SELFEVAL_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"]
            in_k8s[document["metadata"]["name"]] = f"{env['SELFEVAL_NATS_USER']['value']} {secret}"
    return {"compose": in_compose, "k8s": in_k8s}


def test_each_deployed_part_connects_as_its_own_role() -> None:
    parts = {"topology": Role.admin, "ocr": Role.ocr, "parser": Role.parser, "scorer": Role.scorer}
    parts |= {"watcher": Role.watcher, "api": Role.api}
    found = part_users_in_deploy()
    assert found["compose"] == {part: user_name(role) for part, role in parts.items()}
    assert found["k8s"] == {
        part: f"{user_name(role)} {password_variable(role)}" for part, role in parts.items()
    }
    secrets = [d for d in yaml.safe_load_all((DEPLOY / "k8s" / "00-namespace-config.yaml").read_text())]
    (nats_secret,) = [d for d in secrets if d["metadata"]["name"] == "selfeval-nats"]
    assert sorted(nats_secret["stringData"]) == sorted(password_variable(role) for role in Role)


def test_a_nats_server_reading_the_deploy_accounts_lets_each_role_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    passwords = {role: f"deploy-{role.value}-password" for role in Role}
    for role, secret in passwords.items():
        monkeypatch.setenv(password_variable(role), secret)  # the server reads them from its environment
    # Beside the config that includes it, as compose and Kubernetes mount them.
    (tmp_path / "nats-accounts.conf").write_text((DEPLOY / "nats-accounts.conf").read_text())
    config = tmp_path / "nats.conf"
    config.write_text('include "nats-accounts.conf"\n')

    async def roles_let_in(url: str) -> list[Role]:
        admitted = []
        for role, secret in passwords.items():
            client = await nats.connect(url, user=user_name(role), password=secret, allow_reconnect=False)
            admitted.append(role)
            await client.close()
        return admitted

    with EmbeddedNats(tmp_path / "nats", extra_args=["-c", str(config)]) as deployed:
        assert run(roles_let_in(deployed.url)) == list(Role)


def test_the_api_reads_the_kept_pages_but_cannot_write_the_scans_bucket(
    server: EmbeddedNats, home: Path
) -> None:
    kept, forged = page_image_object(SUBMISSION, 1), page_image_object(SUBMISSION, 2)

    async def scenario() -> tuple[bytes | None, bool, bool]:
        ocr = await connect_as(server, home, Role.ocr)  # the part that keeps them
        await (await ocr.jetstream().object_store(SCANS_BUCKET)).put(kept, b"a page as read")
        api = await connect_as(server, home, Role.api)
        try:
            scans = await api.jetstream().object_store(SCANS_BUCKET)
            read = (await scans.get(kept)).data
            denied = await refused(lambda: scans.put(forged, b"a forged page"))
        finally:
            await api.close()
        try:
            await (await ocr.jetstream().object_store(SCANS_BUCKET)).get(forged)
            stored = True
        except nats.js.errors.ObjectNotFoundError:
            stored = False
        finally:
            await ocr.close()
        return read, denied, stored

    assert run(scenario()) == (b"a page as read", True, False)
