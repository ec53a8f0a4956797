"""`selfeval up`: the whole system on one machine, each part its own process.

Starts an embedded NATS server (JetStream, data under HOME/nats) and a local Prefect server (its UI
included, data under HOME/prefect) unless `NATS_URL` / `PREFECT_API_URL` name existing ones, then the
three services, the bucket watcher and the HTTP API. Ctrl-C (or SIGTERM) stops them all, last
started first.

The embedded server always requires credentials: `up` generates one user per role at every start
(`selfeval.credentials`), each part connects as its own role with only its own permissions
(`selfeval.permissions`), and `up` itself creates the streams and buckets as the admin.

A part that dies (crash, OOM kill, `kill -9`) is started again, on the same ports and data, after a
back-off that doubles while it keeps dying soon after each start (1 s up to 30 s); the embedded NATS
server is watched the same way. A part exiting with status 2 (refused credentials, missing models:
a configuration error no restart can fix) stops the whole system instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from selfeval import credentials
from selfeval.bootstrap import clear_endpoints, nats_auth, write_endpoints
from selfeval.bus.connection import BusAuthError
from selfeval.bus.service import CONFIG_ERROR_STATUS
from selfeval.bus.topology import prepare_topology
from selfeval.contract.messages import RECORD_CHANNELS
from selfeval.credentials import Credential
from selfeval.embedded import EmbeddedNats, NatsServerError, free_port
from selfeval.logs import open_private_log
from selfeval.parts import PARTS
from selfeval.permissions import Role, user_name
from selfeval.settings import Settings


class StartupError(RuntimeError):
    """A part of the system did not come up; the message says which and where its log is."""


FIRST_BACKOFF, MAX_BACKOFF = 1.0, 30.0
STABLE_AFTER = 60.0
"""A part that ran this long before dying starts over from the first back-off."""
BOOKKEEPING_NICENESS = 19
"""The Prefect server, the watcher (its flow runs) and the API run at this lower CPU priority: they only
record and report, so on a small machine they use the moments OCR leaves free instead of slowing it."""


def restart_delay(failures: int) -> float:
    """1, 2, 4, … s up to MAX_BACKOFF for the n-th quick death in a row (n ≥ 1)."""
    return min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** max(0, failures - 1))


@dataclass
class RestartBackoff:
    """When a dead part may start again: the delay doubles while it keeps dying soon after each start."""

    started_at: float = field(default_factory=time.monotonic)
    quick_failures: int = 0
    restart_at: float | None = None  # set while dead and waiting for its back-off

    @property
    def scheduled(self) -> bool:
        return self.restart_at is not None

    def schedule(self, now: float) -> float:
        """Note a death at `now`; returns the delay before the restart."""
        quick = now - self.started_at < STABLE_AFTER
        self.quick_failures = self.quick_failures + 1 if quick else 1
        delay = restart_delay(self.quick_failures)
        self.restart_at = now + delay
        return delay

    def due(self, now: float) -> bool:
        return self.restart_at is not None and now >= self.restart_at

    def restarted(self, now: float) -> None:
        self.started_at, self.restart_at = now, None


@dataclass
class Process:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes]
    niceness: int = 0
    backoff: RestartBackoff = field(default_factory=RestartBackoff)
    restarts: int = 0


@dataclass
class Supervisor:
    """Runs the parts as child processes (logs under HOME/logs), restarts dead ones, stops them in reverse."""

    home: Path
    env: dict[str, str]
    processes: list[Process] = field(default_factory=list)

    def start(
        self, name: str, argv: list[str], extra_env: dict[str, str] | None = None, niceness: int = 0
    ) -> Process:
        log_path = self.home / "logs" / f"{name}.log"
        env = {**self.env, **(extra_env or {})}
        popen = self._spawn(argv, env, log_path, niceness)
        process = Process(name, argv, env, log_path, popen, niceness)
        self.processes.append(process)
        return process

    @staticmethod
    def _spawn(
        argv: list[str], env: dict[str, str], log_path: Path, niceness: int
    ) -> subprocess.Popen[bytes]:
        with open_private_log(log_path) as log_file:
            return subprocess.Popen(
                argv,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches us; we stop the children in order
                # Set in the child before exec, so every thread it starts inherits it.
                preexec_fn=(lambda: os.nice(niceness)) if niceness else None,
            )

    def exited(self) -> list[Process]:
        return [p for p in self.processes if p.popen.poll() is not None]

    def config_errors(self) -> list[Process]:
        return [p for p in self.exited() if p.popen.returncode == CONFIG_ERROR_STATUS]

    def revive(self, say: Callable[[str], None]) -> None:
        """Schedule a restart for each newly dead part, and restart those whose back-off is over."""
        now = time.monotonic()
        for process in self.exited():
            if not process.backoff.scheduled:
                _kill_group(process.popen.pid)  # helpers it forked (uvicorn, …) would hold its port
                delay = process.backoff.schedule(now)
                status = process.popen.returncode
                say(f"{process.name} exited with status {status}; restarting in {delay:.0f} s")
            elif process.backoff.due(now):
                process.popen = self._spawn(process.argv, process.env, process.log_path, process.niceness)
                process.backoff.restarted(now)
                process.restarts += 1
                say(f"{process.name} restarted (restart {process.restarts}, pid {process.popen.pid})")

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
            _kill_group(process.popen.pid)


def _kill_group(pid: int) -> None:
    """SIGKILL what is left of a dead child's process group (each child leads its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


@dataclass
class NatsKeeper:
    """Restarts the embedded NATS server (same port and store) when it dies, with the same back-off."""

    nats: EmbeddedNats
    backoff: RestartBackoff = field(default_factory=RestartBackoff)

    def revive(self, say: Callable[[str], None]) -> None:
        if self.nats.running:
            return
        now = time.monotonic()
        if not self.backoff.scheduled:
            delay = self.backoff.schedule(now)
            say(f"nats-server exited; restarting in {delay:.0f} s")
        elif self.backoff.due(now):
            try:
                self.nats.start()
            except NatsServerError as exc:
                say(f"nats-server did not come back: {exc}")
                self.nats.forget()
            self.backoff.restarted(now)
            if self.nats.running:
                say(f"nats-server restarted on {self.nats.url}")


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
        niceness=BOOKKEEPING_NICENESS,
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


CONFIGURED_CREDENTIALS = ("SELFEVAL_NATS_USER", "SELFEVAL_NATS_PASSWORD", "SELFEVAL_NATS_CREDS")


def start_embedded_nats(settings: Settings, home: Path) -> tuple[EmbeddedNats, dict[str, str]]:
    """The embedded server, requiring the credentials generated for each role (and the configured
    user, if any, as an admin); returns it and the admin's `nats.connect` keywords."""
    admins = []
    if settings.nats_user and settings.nats_password:
        admins.append(Credential(settings.nats_user, settings.nats_password.get_secret_value()))
    if any(admin.user in {user_name(role) for role in Role} for admin in admins):
        raise StartupError(
            f"SELFEVAL_NATS_USER must not be one of the parts' users ({user_name(Role.ocr)}, …)"
        )
    generated = credentials.generate(home, admins)
    nats = EmbeddedNats(
        store_dir=home / "nats",
        port=_port_or_free(settings.nats_port),
        extra_args=["-c", str(credentials.server_config_path(home))],
    )
    nats.start()
    admin = generated[Role.admin]
    return nats, {"user": admin.user, "password": admin.password}


def create_topology(url: str, replicas: int, auth: dict[str, str]) -> None:
    try:
        asyncio.run(prepare_topology(url, replicas, **auth))
    except BusAuthError as exc:
        raise StartupError(f"cannot create the streams and buckets: {exc}") from None


def up(settings: Settings, say: Callable[[str], None], stop_requested: Callable[[], bool]) -> int:
    """Bring everything up, report the URLs, supervise until asked to stop or a part dies."""
    home = settings.home.resolve()
    for folder in ("inbox", *(f"outbox/{channel}" for channel in RECORD_CHANNELS.values())):
        (home / folder).mkdir(parents=True, exist_ok=True)
    (home / "logs").mkdir(mode=0o700, exist_ok=True)
    (home / "logs").chmod(0o700)  # logs name files and submissions: their owner's business only
    env = base_env(settings)
    supervisor = Supervisor(home, env)
    nats: EmbeddedNats | None = None
    try:
        if settings.nats_url:
            nats_url = settings.nats_url
            credentials.remove(home)  # an earlier embedded run's, which the parts would otherwise pick up
            admin_auth = {k: v for k, v in nats_auth(settings, Role.admin).items() if k != "inbox_prefix"}
        else:
            nats, admin_auth = start_embedded_nats(settings, home)
            nats_url = nats.url
            for name in CONFIGURED_CREDENTIALS:  # each part connects as its own role instead
                env.pop(name, None)
        create_topology(nats_url, settings.nats_replicas, admin_auth)
        say(f"NATS          {nats_url}")
        prefect_api_url = settings.prefect_api_url or start_prefect(supervisor, home, settings.prefect_port)
        say(f"Prefect UI    {prefect_api_url.removesuffix('/api')}")
        env.update({"NATS_URL": nats_url, "PREFECT_API_URL": prefect_api_url})
        api_port = _port_or_free(settings.api_port)
        # The watcher's flow runs link to review pages: they must know the port the API really got.
        env["SELFEVAL_PUBLIC_URL"] = settings.public_api_url(api_port)
        python = sys.executable
        # Each OCR process gets its share of the cores (it cannot know how many siblings it has).
        ocr_env = {"SELFEVAL_OCR_THREADS": str(settings.ocr_threads_per_process(settings.ocr_processes))}
        for part in PARTS.values():
            copies = settings.ocr_processes if part.name == "ocr" else 1
            for n in range(copies):
                supervisor.start(
                    f"{part.name}-{n + 1}" if copies > 1 else part.name,
                    [python, "-m", "selfeval", "serve", part.name],
                    ocr_env if part.name == "ocr" else None,
                    niceness=BOOKKEEPING_NICENESS if part.bookkeeping else 0,
                )
        api = supervisor.start(
            "api",
            [python, "-m", "selfeval", "api", "--port", str(api_port)],
            niceness=BOOKKEEPING_NICENESS,
        )
        api_url = f"http://{settings.api_host}:{api_port}"
        wait_until(lambda: _http_ok(api_url + "/healthz"), 60, "the API", api)
        write_endpoints(home, {"nats_url": nats_url, "prefect_api_url": prefect_api_url, "api_url": api_url})
        say(f"API docs      {api_url}/docs")
        say(f"Review        {api_url}/review  (reviewers: `selfeval review add-reviewer NAME`)")
        bucket = f"s3://{settings.s3_bucket}/" if settings.s3_bucket else None
        say(f"Inbox         {bucket + settings.s3_prefix if bucket else settings.inbox_path.resolve()}")
        outbox = bucket + settings.s3_outbox_prefix if bucket else settings.outbox_path.resolve()
        say(f"Outbox        {outbox}")
        say(f"Logs          {home / 'logs'}")
        say("ready: drop scans into the inbox (or `selfeval submit FILE…`); Ctrl-C stops everything")
        keeper = NatsKeeper(nats) if nats is not None else None
        while not stop_requested():
            broken = supervisor.config_errors()
            if broken:
                names = ", ".join(f"{p.name} (status {p.popen.returncode}, log {p.log_path})" for p in broken)
                say(f"stopping: {names} cannot run as configured")
                return 1
            if keeper is not None:
                keeper.revive(say)
            supervisor.revive(say)
            time.sleep(0.5)
        return 0
    finally:
        clear_endpoints(home)
        supervisor.stop_all()
        if nats is not None:
            nats.stop()
            credentials.remove(home)


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
