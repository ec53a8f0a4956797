"""How long `selfeval up` waits before starting a dead part again."""

from __future__ import annotations

import pytest

from selfeval.up import MAX_BACKOFF, STABLE_AFTER, RestartBackoff

pytestmark = pytest.mark.unit


def test_quick_deaths_double_the_delay_up_to_the_cap() -> None:
    backoff = RestartBackoff(started_at=0.0)
    now, delays = 1.0, []
    for _ in range(8):
        delays.append(backoff.schedule(now))
        assert not backoff.due(now) and backoff.due(now + delays[-1])
        now += delays[-1]
        backoff.restarted(now)
        now += 1.0  # dies again a second after each start
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0] and MAX_BACKOFF == 30.0


def test_a_death_after_a_stable_run_starts_over_from_the_first_delay() -> None:
    backoff = RestartBackoff(started_at=0.0)
    assert backoff.schedule(1.0) == 1.0
    backoff.restarted(2.0)
    assert backoff.schedule(3.0) == 2.0
    backoff.restarted(4.0)
    assert not backoff.scheduled
    assert backoff.schedule(4.0 + STABLE_AFTER + 1) == 1.0
