"""A stage task is retried for a passing connection problem only: not when the services gave up on the
stage, nor when it already waited the whole stage timeout."""

from __future__ import annotations

import asyncio

import pytest
from prefect.states import Failed

from flows.submission import StageFailedError, StageTimedOutError, is_transient

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (ConnectionError("NATS is restarting"), True),
        (TimeoutError("no answer in time"), True),
        (OSError("connection reset"), True),
        (StageFailedError("ocr: not a scan"), False),
        (StageTimedOutError("ocr did not finish within 3600 s"), False),
        (ValueError("a bug"), False),
    ],
)
def test_only_passing_connection_problems_are_retried(error: Exception, retried: bool) -> None:
    assert asyncio.run(is_transient(None, None, Failed(data=error))) is retried
