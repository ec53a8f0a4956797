"""A real Prefect server for the flow tests, and Prefect's client aimed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker
from prefect.settings import PREFECT_API_URL, temporary_settings

from selfeval.settings import Settings
from selfeval.up import Supervisor, base_env, start_prefect


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`prefect server start` as `selfeval up` runs it, on a free loopback port, data in a tmp dir; its
    API URL. Started once per session (it takes seconds); tests tell their runs apart by name."""
    home = tmp_path_factory.mktemp("prefect-home")
    (home / "logs").mkdir()
    supervisor = Supervisor(home, base_env(Settings(home=home)))
    try:
        api_url = start_prefect(supervisor, home, preferred_port=0)
        with pytest.MonkeyPatch.context() as environment:
            environment.setenv("PREFECT_API_URL", api_url)  # what selfeval's settings read
            with temporary_settings(updates={PREFECT_API_URL: api_url}):  # Prefect's, read at import
                yield api_url
                # Flow runs' logs and events are sent in the background: deliver them while the
                # server still listens, not at exit.
                APILogWorker.drain_all(timeout=10, at_exit=False)
                EventsWorker.drain_all(timeout=10, at_exit=False)
    finally:
        supervisor.stop_all()
