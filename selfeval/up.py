"""`selfeval up`: the whole system on one machine, each part its own process.

Starts an embedded NATS server (JetStream, data under HOME/nats) and a local Prefect server (its UI
included, data under HOME/prefect) unless `NATS_URL` / `PREFECT_API_URL` name existing ones, then the
three services, the bucket watcher and the HTTP API. Ctrl-C (or SIGTERM) stops them all, last
started first.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from selfeval.bootstrap import clear_endpoints, write_endpoints
from selfeval.embedded import EmbeddedNats, free_port
from selfeval.settings import Settings


class StartupError(RuntimeError):
    """A part of the system did not come up; the message says which and where its log is."""


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path


@dataclass
class Supervisor:
    """Starts the parts as child processes with their logs under HOME/logs, and stops them in reverse."""

    home: Path
    env: dict[str, str]
    processes: list[Process] = field(default_factory=list)

    def start(self, name: str, argv: list[str], extra_env: dict[str, str] | None = None) -> Process:
        logs = self.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"{name}.log"
        log_file = log_path.open("ab")
        popen = subprocess.Popen(
            argv,
            env={**self.env, **(extra_env or {})},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches us; we stop the children in order
        )
        process = Process(name, popen, log_path)
        self.processes.append(process)
        return process

    def exited(self) -> list[Process]:
        return [p for p in self.processes if p.popen.poll() is not None]

    def stop_all(self, timeout: float = 15.0) -> None:
        for process in reversed(self.processes):
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in reversed(self.processes):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                process.popen.wait(remaining)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait()


def _port_or_free(preferred: int) -> int:
    """The preferred port when it is free (0: any free port), else a free one."""
    import socket

    if preferred == 0:
        return free_port()
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            return free_port()
    return preferred


def wait_until(check: Callable[[], bool], timeout: float, what: str, process: Process | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.popen.poll() is not None:
            raise StartupError(
                f"{what} exited with status {process.popen.returncode}; see {process.log_path}"
            )
        if check():
            return
        time.sleep(0.5)
    raise StartupError(
        f"{what} not ready after {timeout:.0f} s" + (f"; see {process.log_path}" if process else "")
    )


def _prefect_healthy(api_url: str) -> bool:
    try:
        return httpx.get(api_url.rstrip("/") + "/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def start_prefect(supervisor: Supervisor, home: Path, preferred_port: int) -> str:
    port = _port_or_free(preferred_port)
    prefect_home = home / "prefect"
    prefect_home.mkdir(parents=True, exist_ok=True)
    api_url = f"http://127.0.0.1:{port}/api"
    process = supervisor.start(
        "prefect-server",
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        {"PREFECT_HOME": str(prefect_home), "PREFECT_UI_API_URL": api_url},
    )
    wait_until(lambda: _prefect_healthy(api_url), 120, "the Prefect server", process)
    return api_url


def base_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["SELFEVAL_HOME"] = str(settings.home.resolve())
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("PREFECT_HOME", str((settings.home / "prefect").resolve()))
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def up(settings: Settings, say: Callable[[str], None], stop_requested: Callable[[], bool]) -> int:
    """Bring everything up, report the URLs, supervise until asked to stop or a part dies."""
    home = settings.home.resolve()
    for folder in ("inbox", "outbox/verified", "outbox/review", "outbox/rejected", "logs"):
        (home / folder).mkdir(parents=True, exist_ok=True)
    env = base_env(settings)
    supervisor = Supervisor(home, env)
    nats: EmbeddedNats | None = None
    try:
        if settings.nats_url:
            nats_url = settings.nats_url
        else:
            nats = EmbeddedNats(store_dir=home / "nats", port=_port_or_free(settings.nats_port))
            nats.start()
            nats_url = nats.url
        say(f"NATS          {nats_url}")
        prefect_api_url = settings.prefect_api_url or start_prefect(supervisor, home, settings.prefect_port)
        say(f"Prefect UI    {prefect_api_url.removesuffix('/api')}")
        env.update({"NATS_URL": nats_url, "PREFECT_API_URL": prefect_api_url})
        api_port = _port_or_free(settings.api_port)
        python = sys.executable
        parts = [
            (f"ocr-{n + 1}" if settings.ocr_processes > 1 else "ocr", "services.ocr.worker")
            for n in range(settings.ocr_processes)
        ]
        parts += [
            ("parser", "services.parser.worker"),
            ("scorer", "services.scorer.worker"),
            ("watcher", "flows.serve"),
        ]
        for name, module in parts:
            supervisor.start(name, [python, "-m", module])
        api = supervisor.start("api", [python, "-m", "selfeval", "api", "--port", str(api_port)])
        api_url = f"http://{settings.api_host}:{api_port}"
        wait_until(lambda: _http_ok(api_url + "/healthz"), 60, "the API", api)
        write_endpoints(home, {"nats_url": nats_url, "prefect_api_url": prefect_api_url, "api_url": api_url})
        say(f"API docs      {api_url}/docs")
        bucket = f"s3://{settings.s3_bucket}/" if settings.s3_bucket else None
        say(f"Inbox         {bucket + settings.s3_prefix if bucket else settings.inbox_path.resolve()}")
        outbox = bucket + settings.s3_outbox_prefix if bucket else settings.outbox_path.resolve()
        say(f"Outbox        {outbox}")
        say(f"Logs          {home / 'logs'}")
        say("ready: drop scans into the inbox (or `selfeval submit FILE…`); Ctrl-C stops everything")
        while not stop_requested():
            dead = supervisor.exited()
            if dead:
                names = ", ".join(f"{p.name} (status {p.popen.returncode}, log {p.log_path})" for p in dead)
                say(f"stopping: {names} exited")
                return 1
            time.sleep(0.5)
        return 0
    finally:
        clear_endpoints(home)
        supervisor.stop_all()
        if nats is not None:
            nats.stop()


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
