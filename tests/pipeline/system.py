"""The whole system as users run it, for end-to-end tests: SeaweedFS as the S3 store and `selfeval up`.

Everything binds to free loopback ports under a temporary SELFEVAL_HOME and is stopped afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import nats
import nats.errors

from selfeval import credentials
from selfeval.credentials import Credential
from selfeval.permissions import Role

S3_ACCESS_KEY = "selfeval-test"
S3_SECRET_KEY = "selfeval-test-secret"


@dataclass
class SeaweedFS:
    endpoint_url: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    args: list[str]
    log_path: Path

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=S3_ACCESS_KEY,
            aws_secret_access_key=S3_SECRET_KEY,
            region_name="us-east-1",
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def start(self) -> None:
        """(Re)start on the same ports and data, as after an outage."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: _s3_answers(self.endpoint_url), 60, "SeaweedFS S3")


def _s3_answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
        return True
    except httpx.HTTPError:
        return False


def wait_for(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise TimeoutError(f"{what} not ready after {timeout} s")


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def weed_port() -> int:
    """A free port whose gRPC twin (port + 10000, SeaweedFS's convention) is free too."""
    for _ in range(200):
        port = random.randint(20000, 45000)
        if _bindable(port) and _bindable(port + 10000):
            return port
    raise RuntimeError("no free port pair for SeaweedFS")


def start_seaweedfs(root: Path, bucket: str) -> SeaweedFS:
    weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    data = root / "seaweedfs"
    data.mkdir(parents=True, exist_ok=True)
    config = root / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "selfeval",
                        "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    s3_port = weed_port()
    args = [
        weed,
        "server",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={weed_port()}",
        f"-volume.port={weed_port()}",
        f"-filer.port={weed_port()}",
        "-s3",
        f"-s3.port={s3_port}",
        f"-s3.config={config}",
        "-s3.port.iceberg=0",  # off: fixed default ports (8181, 9101) clash between concurrent test runs
        "-s3.port.lance=0",
        "-master.volumeSizeLimitMB=64",
    ]
    server = SeaweedFS(f"http://127.0.0.1:{s3_port}", None, data, args, root / "seaweedfs.log")  # type: ignore[arg-type]
    server.start()
    client = server.client()
    deadline = time.monotonic() + 60
    while True:  # the S3 gateway answers before the filer behind it is ready
        try:
            client.create_bucket(Bucket=bucket)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    return server


def s3_env(seaweedfs: SeaweedFS, bucket: str) -> dict[str, str]:
    """The settings that make `selfeval up` watch (and write its outbox to) a SeaweedFS bucket."""
    return {
        "SELFEVAL_S3_BUCKET": bucket,
        "SELFEVAL_S3_ENDPOINT_URL": seaweedfs.endpoint_url,
        "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
    }


@dataclass
class RunningSystem:
    home: Path
    process: subprocess.Popen[bytes]
    endpoints: dict[str, str]
    log_path: Path
    admin: Credential | None = None
    """The admin credential `up` generated for its embedded NATS (None with an external NATS_URL)."""

    @property
    def nats_url(self) -> str:
        """Where a test connects to inspect the system: with the admin's credentials in the URL when
        the NATS is the embedded one (it requires credentials)."""
        url = self.endpoints["nats_url"]
        if self.admin is None:
            return url
        return url.replace("nats://", f"nats://{self.admin.user}:{self.admin.password}@", 1)

    def credential(self, role: Role) -> Credential:
        """A part's generated credential, as that part (or `selfeval tail`) finds it under HOME."""
        found = credentials.load(self.home, role)
        assert found is not None, f"no generated credential for {role}"
        return found

    @property
    def prefect_api_url(self) -> str:
        return self.endpoints["prefect_api_url"]

    @property
    def api_url(self) -> str:
        return self.endpoints["api_url"]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode

    def logs(self) -> str:
        parts = [self.log_path.read_text(errors="replace")]
        for path in sorted((self.home / "logs").glob("*.log")):
            parts.append(f"--- {path.name}\n" + path.read_text(errors="replace")[-3000:])
        return "\n".join(parts)


def nats_accepts(url: str, **auth: str) -> bool:
    """Whether the NATS server at `url` lets a client in with `auth` (nothing: anonymously)."""

    async def attempt() -> bool:
        try:
            client = await nats.connect(
                url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=3, **auth
            )
        except (nats.errors.Error, OSError, TimeoutError):
            return False
        await client.close()
        return True

    return asyncio.run(attempt())


def system_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SELFEVAL_", "NATS_", "PREFECT_"))
    }
    env.update(
        {
            "SELFEVAL_HOME": str(home),
            "SELFEVAL_NATS_PORT": "0",
            "SELFEVAL_PREFECT_PORT": "0",
            "SELFEVAL_API_PORT": "0",
            "SELFEVAL_POLL_SECONDS": "1",
            "SELFEVAL_SETTLE_SECONDS": "0.5",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }
    )
    env.update(extra or {})
    return env


def start_system(home: Path, extra_env: dict[str, str] | None = None, timeout: float = 240) -> RunningSystem:
    """`selfeval up` as a user runs it; returns once it says ready."""
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "up.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "selfeval", "up"],
            env=system_env(home, extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"selfeval up exited {process.returncode}:\n{log_path.read_text()}")
        if "ready:" in log_path.read_text(errors="replace"):
            endpoints = json.loads((home / "endpoints.json").read_text())
            return RunningSystem(home, process, endpoints, log_path, credentials.load(home, Role.admin))
        time.sleep(0.5)
    process.kill()
    raise TimeoutError(f"selfeval up not ready after {timeout} s:\n{log_path.read_text()}")


def prefect_post(system: RunningSystem, path: str, body: dict[str, Any]) -> Any:
    response = httpx.post(system.prefect_api_url + path, json=body, timeout=30)
    response.raise_for_status()
    return response.json()


def flow_runs(system: RunningSystem, flow_name: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = prefect_post(
        system, "/flow_runs/filter", {"flows": {"name": {"any_": [flow_name]}}, "limit": 200}
    )
    return runs


def task_runs(system: RunningSystem, flow_run_id: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = prefect_post(
        system, "/task_runs/filter", {"flow_runs": {"id": {"any_": [flow_run_id]}}, "limit": 50}
    )
    return runs
