"""Outages of what the system stands on: the S3 bucket, and one node of a three-node NATS cluster."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from selfeval.contract.messages import Stage, StageState
from selfeval.embedded import EmbeddedNats, free_port
from tests.faults.support import FAST_ENV, any_in_stage, assert_exactly_once, scan_bytes, sha256, wait_for
from tests.pipeline.system import S3_ACCESS_KEY, S3_SECRET_KEY, SeaweedFS, start_seaweedfs, start_system

pytestmark = pytest.mark.system

BUCKET = "selfeval-faults"


def _put(seaweedfs: SeaweedFS, files: dict[str, bytes]) -> list[str]:
    client = seaweedfs.client()
    for name, data in files.items():
        client.upload_fileobj(io.BytesIO(data), BUCKET, f"inbox/{name}")
    return [sha256(data) for data in files.values()]


@pytest.fixture
def seaweedfs(tmp_path: Path) -> Iterator[SeaweedFS]:
    server = start_seaweedfs(tmp_path / "s3", BUCKET)
    yield server
    server.stop()


def test_bucket_unreachable_for_a_while_the_watcher_backs_off_and_catches_up(
    tmp_path: Path, seaweedfs: SeaweedFS, scans_dir: Path
) -> None:
    s3_env = {
        "SELFEVAL_S3_BUCKET": BUCKET,
        "SELFEVAL_S3_ENDPOINT_URL": seaweedfs.endpoint_url,
        "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    system = start_system(tmp_path / "home", {**FAST_ENV, **s3_env})
    try:
        before = _put(seaweedfs, {f"before-{n}.pdf": scan_bytes(30_000 + n, scans_dir) for n in range(2)})
        wait_for(lambda: any_in_stage(system.nats_url, before, Stage.ocr, StageState.running), 120, "ocr")
        seaweedfs.stop()  # records of `before` are published while the outbox is away
        time.sleep(10)  # several failed polls: the watcher backs off
        seaweedfs.start()
        back = time.monotonic()
        after = _put(seaweedfs, {f"after-{n}.pdf": scan_bytes(30_100 + n, scans_dir) for n in range(2)})

        outcome = assert_exactly_once(system.nats_url, before + after)
        print(f"bucket outage: {outcome.count} records for 4 submissions, {time.monotonic() - back:.0f} s")
        outbox = seaweedfs.client().list_objects_v2(Bucket=BUCKET, Prefix="outbox/").get("Contents", [])
        assert sorted(o["Key"].rsplit("/", 1)[-1] for o in outbox) == sorted(
            f"{r.record_id}.json" for r in outcome.records
        )
    finally:
        assert system.stop() == 0, system.logs()


# --- a three-node NATS cluster --------------------------------------------------------------------


def start_cluster(root: Path, size: int = 3) -> list[EmbeddedNats]:
    routes = [f"nats://127.0.0.1:{free_port()}" for _ in range(size)]
    nodes = []
    for n in range(size):
        args = ["-n", f"node-{n}", "--cluster_name", "selfeval", "--cluster", routes[n]]
        args += ["--routes", ",".join(r for i, r in enumerate(routes) if i != n)]
        nodes.append(EmbeddedNats(root / f"node-{n}", extra_args=args).start())
    return nodes


async def _jetstream_ready(url: str) -> bool:
    nc = await nats.connect(url.split(","), connect_timeout=2)
    try:
        await nc.jetstream().account_info()
        return True
    except Exception:  # no meta leader elected yet
        return False
    finally:
        await nc.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[EmbeddedNats]]:
    nodes = start_cluster(tmp_path / "cluster")
    try:
        yield nodes
    finally:
        for node in nodes:
            node.stop()


def test_one_node_of_a_three_node_cluster_killed_mid_run_loses_nothing(
    tmp_path: Path, cluster: list[EmbeddedNats], scans_dir: Path
) -> None:
    url = ",".join(node.url for node in cluster)
    wait_for(lambda: asyncio.run(_jetstream_ready(url)), 60, "JetStream meta leader", every=1)
    system = start_system(tmp_path / "home", {**FAST_ENV, "NATS_URL": url, "SELFEVAL_NATS_REPLICAS": "3"})
    try:
        inbox = system.home / "inbox"
        files = {f"cluster-{n}.pdf": scan_bytes(40_000 + n, scans_dir) for n in range(4)}
        for name, data in files.items():
            (inbox / name).write_bytes(data)
        ids = [sha256(data) for data in files.values()]
        wait_for(lambda: any_in_stage(url, ids, Stage.ocr, StageState.running), 120, "ocr running")
        cluster[0].kill()
        killed = time.monotonic()
        survivors = ",".join(node.url for node in cluster[1:])

        outcome = assert_exactly_once(survivors, ids)
        recovered = time.monotonic() - killed
        print(f"cluster node killed: {outcome.count} records for {len(ids)} submissions, {recovered:.0f} s")
    finally:
        assert system.stop() == 0, system.logs()
