"""Services against a nats-server that requires a user and password: they connect with the configured
credentials and fail closed, with one line naming the problem, when the credentials are wrong."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from selfeval.embedded import EmbeddedNats

pytestmark = pytest.mark.integration

USER = "selfeval"
PASSWORD = "nats-pass-under-test-93ab"


@pytest.fixture(scope="module")
def secured_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    with EmbeddedNats(
        tmp_path_factory.mktemp("nats"), extra_args=["--user", USER, "--pass", PASSWORD]
    ) as server:
        yield server


def service_env(nats: EmbeddedNats, home: Path, user: str | None, password: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SELFEVAL_", "NATS_"))}
    env.update({"NATS_URL": nats.url, "SELFEVAL_HOME": str(home), "SELFEVAL_LOG_FORMAT": "json"})
    if user is not None:
        env["SELFEVAL_NATS_USER"] = user
    if password is not None:
        env["SELFEVAL_NATS_PASSWORD"] = password
    return env


@pytest.mark.parametrize(
    ("user", "password"),
    [(USER, "wrong-password"), (None, None), ("intruder", PASSWORD)],
    ids=["wrong-password", "no-credentials", "wrong-user"],
)
def test_a_service_with_bad_credentials_exits_with_one_clear_line(
    secured_nats: EmbeddedNats, tmp_path: Path, user: str | None, password: str | None
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "selfeval", "serve", "parser"],
        env=service_env(secured_nats, tmp_path, user, password),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2  # refused credentials: configuration that restarting cannot mend
    # One error line says what is wrong. (A "connection reset" warning can precede it when the server
    # hangs up before the client has read its -ERR; selfeval/bus/ should hold that back.)
    errors = [json.loads(line) for line in result.stderr.splitlines() if '"level": "error"' in line]
    assert len(errors) == 1, result.stderr
    assert "refused the credentials" in errors[0]["event"] and secured_nats.url in errors[0]["event"]
    assert PASSWORD not in result.stderr + result.stdout
    assert result.stdout == ""


def test_the_watcher_with_bad_credentials_exits_2_with_one_clear_line(
    secured_nats: EmbeddedNats, tmp_path: Path
) -> None:
    env = service_env(secured_nats, tmp_path, USER, "wrong-password")
    env["PREFECT_API_URL"] = "http://127.0.0.1:9/api"  # never reached: NATS refuses first
    result = subprocess.run(
        [sys.executable, "-m", "selfeval", "serve", "watcher"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    errors = [json.loads(line) for line in result.stderr.splitlines() if '"level": "error"' in line]
    assert len(errors) == 1, result.stderr
    assert "refused the credentials" in errors[0]["event"] and secured_nats.url in errors[0]["event"]
    assert "Traceback" not in result.stderr and PASSWORD not in result.stderr + result.stdout


def test_a_service_with_the_right_credentials_serves_until_stopped(
    secured_nats: EmbeddedNats, tmp_path: Path
) -> None:
    log_path = tmp_path / "parser.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "selfeval", "serve", "parser"],
            env=service_env(secured_nats, tmp_path, USER, PASSWORD),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while "nats connected" not in log_path.read_text() and time.monotonic() < deadline:
            assert worker.poll() is None, log_path.read_text()
            time.sleep(0.2)
        assert "nats connected" in log_path.read_text()
        time.sleep(1)
        assert worker.poll() is None, log_path.read_text()
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0, log_path.read_text()
    assert PASSWORD not in log_path.read_text()
