"""What a run's outcome is called, what it is tagged with and where its links point (no server)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.states import StateType
from structlog.testing import capture_logs

from flows.outcomes import most_attention, outcome_state, status_tags
from flows.review import announce_review, review_markdown
from flows.submission import summary_markdown
from selfeval.contract import Record, Status
from selfeval.contract.messages import SubmissionState
from selfeval.contract.record import Confirmation, Correction
from selfeval.settings import Settings
from tests.bus.support import run
from tests.conftest import REAL_FORMS, load_fixture

pytestmark = pytest.mark.unit

V, R, C, X = Status.verified, Status.needs_review, Status.confirmed, Status.rejected


@pytest.mark.parametrize(
    ("statuses", "named"),
    [
        ([V], "Verified"),
        ([V, V, C], "Confirmed"),
        ([V, C, R], "Needs review"),
        ([R, V, X, C], "Rejected"),
        ([X], "Rejected"),
    ],
)
def test_a_submission_is_named_after_the_form_needing_the_most_attention(
    statuses: list[Status], named: str
) -> None:
    state = outcome_state(statuses, "message")
    assert (state.type, state.name) == (StateType.COMPLETED, named)


def test_no_records_leave_a_plain_completed_state_and_no_status_tag() -> None:
    assert most_attention([]) is None
    assert outcome_state([], "no records").name == "Completed"
    assert status_tags([]) == []


def test_one_tag_per_status_present() -> None:
    assert status_tags([V, R, V, R]) == ["needs_review", "verified"]


def test_the_public_url_is_where_the_api_is_reached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SELFEVAL_PUBLIC_URL", raising=False)
    assert Settings().public_api_url() == "http://127.0.0.1:8000"
    assert Settings(api_port=8123).public_api_url(41234) == "http://127.0.0.1:41234"  # picked at start
    assert Settings(api_host="0.0.0.0").public_api_url() == "http://127.0.0.1:8000"
    assert Settings(api_host="::").public_api_url() == "http://[::1]:8000"
    assert Settings(api_host="192.0.2.7").public_api_url() == "http://192.0.2.7:8000"
    monkeypatch.setenv("SELFEVAL_PUBLIC_URL", "https://selfeval.example.org/")
    assert Settings().public_api_url(41234) == "https://selfeval.example.org"


def test_a_public_url_that_is_not_http_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("SELFEVAL_PUBLIC_URL", "selfeval.example.org")
    with pytest.raises(ValidationError, match="public_url"):
        Settings()


def test_the_submission_artifact_links_only_the_records_to_review() -> None:
    state = SubmissionState(
        submission_id="a" * 64,
        source="scan.pdf",
        record_ids=["1" * 24, "2" * 24, "3" * 24],
        statuses=[V, R, X],
    )
    markdown = summary_markdown("scan.pdf", state, [], "http://host:8000")
    assert "http://host:8000/review/" + "2" * 24 in markdown
    assert "1" * 24 + ")" not in markdown and "3" * 24 + ")" not in markdown
    assert "/review/" not in summary_markdown("scan.pdf", state, [], None)


def reviewed(version: int) -> Record:
    record = load_fixture(REAL_FORMS[0])
    record.record_id, record.record_version, record.status = "4" * 24, version, Status.confirmed
    at = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    record.provenance.corrections = [
        Correction(path="form.grade", old="良", new="优", reviewer="wang", at=at, version=2),
    ]
    record.provenance.confirmations = [Confirmation(reviewer="li", at=at, note="as printed", version=3)]
    return record


def test_the_review_artifact_lists_what_the_latest_version_changed() -> None:
    latest = review_markdown(reviewed(3), "confirmation", "li", "http://host/review/" + "4" * 24)
    assert "confirmed as printed by li at 2026-12-05 09:00 UTC: as printed" in latest
    assert "form.grade" not in latest  # version 2's correction is history, not this review
    assert "now **Confirmed**" in latest and "(http://host/review/" + "4" * 24 + ")" in latest
    earlier = review_markdown(reviewed(2), "correction", "wang")
    assert "| `form.grade` | 良 | 优 | - |" in earlier and "confirmed as printed" not in earlier


def test_announce_review_without_a_prefect_server_configured_logs_one_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("SELFEVAL_HOME", str(tmp_path))  # no endpoints file of a running `selfeval up`

    async def scenario() -> None:
        with temporary_settings(restore_defaults={PREFECT_API_URL}), capture_logs() as logs:
            await announce_review(reviewed(3), "confirmation", "li")
        assert [entry["log_level"] for entry in logs] == ["warning"]
        assert "no Prefect server configured" in logs[0]["event"]

    run(scenario(), timeout=10)
