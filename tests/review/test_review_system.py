"""Review on the whole system as `selfeval up` runs it, with real scans through real OCR.

In a real browser (Debian's chromium): a scan whose 1-bit seal hides figures of the 总分 rows comes out
needing review; the reviewer types what the seal hides, takes the arithmetic's suggestion for 总分 with
one key, and the record comes out `verified`, in `outbox/verified/` and on the records stream once.

Over the API exactly as the README writes the calls: held-out scans (faces and seeds the reading was
never tuned on) that need review are settled — misread figures corrected to `verified`, a form whose
own arithmetic is wrong confirmed as printed to `confirmed`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scangen import scan_forms, write_pdf
from scangen.compare import is_figure, leaf_values
from scangen.fixtures import FIXTURES, REAL_FORMS, load_fixture
from selfeval.contract import Form, Record, Status
from selfeval.review.reviewers import add_reviewer
from tests.bus.support import records_on
from tests.pipeline.system import RunningSystem, flow_runs, start_system
from tests.pipeline.test_end_to_end import CHROMIUM_ARGS

pytestmark = pytest.mark.system

FORM_INDEX = 3
LOOK = {"mode": "bw", "seal": "bw", "seal_at": "total_score", "bilevel": "threshold"}
"""A black-and-white scan with a dotted seal on 总分: figures under it are not read."""


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningSystem, str]]:
    home = tmp_path_factory.mktemp("home")
    token = add_reviewer(home / "reviewers", "王审核")
    running = start_system(home)
    try:
        yield running, token
    finally:
        running.stop()


def wait_for_record(outbox: Path, folder: str, source: str, timeout: float = 600) -> Record:
    """The record of the scan dropped as `source`, once it is in `folder`/."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted((outbox / folder).glob("*.json")):
            record = Record.model_validate_json(path.read_bytes())
            if (record.submission.source or "").rsplit("/", 1)[-1] == source:
                return record
        time.sleep(1)
    raise TimeoutError(f"no record of {source} in {folder}/ after {timeout} s")


def drop_scan(system: RunningSystem, form: Form, name: str, tmp_path: Path, **look: Any) -> None:
    pages = scan_forms([form], quality="office", signature=False, **look)
    pdf = write_pdf(pages, tmp_path / name)
    (system.home / "inbox" / name).write_bytes(pdf.read_bytes())


def published(system: RunningSystem, subject: str) -> list[Record]:
    from selfeval.bus.connection import connect

    async def read() -> list[Record]:
        nc = await connect(system.nats_url, "test-reader", initial_timeout=10)
        try:
            return [Record.model_validate_json(m.data) for m in await records_on(nc.jetstream(), subject)]
        finally:
            await nc.close()

    return asyncio.run(read())


def test_a_reviewer_settles_a_real_scan_in_the_browser(
    system: tuple[RunningSystem, str], tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    running, token = system
    printed = load_fixture(REAL_FORMS[FORM_INDEX]).form
    drop_scan(running, printed, "sealed.pdf", tmp_path, seed=17, **LOOK)
    outbox = running.home / "outbox"
    record = wait_for_record(outbox, "review", "sealed.pdf")
    truth, read = leaf_values(printed), leaf_values(record.form)
    misread = sorted(path for path, value in truth.items() if is_figure(path) and read.get(path) != value)
    assert "form.total_score" in misread, "the seal hides 总分 (else pick a scan where it does)"
    typed = [path for path in misread if path != "form.total_score"]

    screenshots = tmp_path / "screens"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
        page.goto(running.api_url + "/review")
        page.get_by_label("令牌").fill(token)
        page.get_by_role("button", name="登录").click()
        expect(page.get_by_role("heading", name="待复核记录")).to_be_visible()
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(screenshots / "queue.png"), full_page=True)
        page.locator(f'a[href="/review/{record.record_id}"]').click()
        expect(page.get_by_test_id("status")).to_have_text("待复核")
        page.wait_for_load_state("networkidle")
        # The first field takes the focus and its box is shown in the scan pane; the page itself stays
        # where it opened, with its title and buttons in sight.
        expect(page.locator(".highlight:not([hidden])")).to_have_count(1)
        assert page.evaluate("window.scrollY") == 0
        page.get_by_role("button", name="认领").click()
        expect(page.get_by_test_id("claim")).to_have_text("已由您认领")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(screenshots / "record-read.png"), full_page=True)
        page.locator("details.all-fields summary").click()
        # First the figures the seal hides, as the reviewer reads them off the scan.
        for path in typed:
            page.locator(f'input[name="{path}"]').first.fill(truth[path] or "")
        page.get_by_test_id("save").click()
        expect(page.get_by_test_id("message")).to_contain_text("已保存第 2 版")
        # Now the arithmetic determines 总分: one key takes the suggestion.
        total = page.locator('input[name="form.total_score"]').first
        expect(total).to_have_attribute("data-suggestion", truth["form.total_score"] or "")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(screenshots / "record.png"), full_page=True)
        total.focus()
        total.press("=")
        expect(total).to_have_value(truth["form.total_score"] or "")
        page.get_by_test_id("save").click()
        expect(page.get_by_test_id("message")).to_contain_text("已核验")
        expect(page.get_by_test_id("status")).to_have_text("已核验")
        expect(page.locator(".settled")).to_have_text("此记录已核验，无需复核。")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(screenshots / "verified.png"), full_page=True)
        browser.close()

    verified = wait_for_record(outbox, "verified", "sealed.pdf", timeout=10)
    assert verified.record_id == record.record_id
    assert verified.status is Status.verified and verified.record_version == 3
    assert not list((outbox / "review").glob("*.json")), "one current record, in one folder"
    assert leaf_values(verified.form)["form.total_score"] == truth["form.total_score"]
    assert {c.reviewer for c in verified.provenance.corrections} == {"王审核"}
    on_stream = published(running, "selfeval.records.verified")
    assert [(r.record_id, r.record_version) for r in on_stream] == [(record.record_id, 3)]
    # The review shows in Prefect: a short run named after the record, ending in the outcome.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runs = [r for r in flow_runs(running, "review") if r["name"] == f"review-{record.record_id[:8]}"]
        if any(r["state_name"] == "Verified" for r in runs):
            break
        time.sleep(1)
    else:
        raise AssertionError(f"no Verified review run in Prefect: {runs}")
    print(f"screenshots: {screenshots}")


HELD_OUT = {"split": "heldout", "seed": 23}


def what_a_reviewer_types(record: Record, printed: Form) -> list[dict[str, str | None]]:
    """Every figure read wrong, and every field the reading doubted, as printed on the form."""
    truth, read = leaf_values(printed), leaf_values(record.form)
    doubted = {
        path
        for check in record.checks
        if check.rule in ("field_readable", "field_confidence") and check.status.value == "fail"
        for path in check.fields
    }
    wrong = {path for path, value in truth.items() if is_figure(path) and read.get(path) != value}
    return [{"path": path, "value": truth[path]} for path in sorted(wrong | (doubted & set(truth)))]


def api(system: tuple[RunningSystem, str], path: str, body: dict[str, Any]) -> httpx.Response:
    running, token = system
    return httpx.post(
        running.api_url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )


def test_a_held_out_scan_is_corrected_over_the_api_to_verified(
    system: tuple[RunningSystem, str], tmp_path: Path
) -> None:
    running, _ = system
    printed = load_fixture(REAL_FORMS[FORM_INDEX]).form
    drop_scan(running, printed, "held-out-sealed.pdf", tmp_path, **HELD_OUT, **LOOK)
    record = wait_for_record(running.home / "outbox", "review", "held-out-sealed.pdf")
    corrections = what_a_reviewer_types(record, printed)
    assert corrections, "a record that needs review has something to correct"
    response = api(
        system,
        f"/records/{record.record_id}/corrections",
        {"reviewer": "王审核", "version": 1, "corrections": corrections, "note": "read off the scan"},
    )
    assert response.status_code == 200, response.text
    settled = Record.model_validate_json(response.content)
    assert (settled.status, settled.record_version) == (Status.verified, 2), settled.reason
    outbox = running.home / "outbox"
    assert (outbox / "verified" / f"{record.record_id}.json").exists()
    assert not (outbox / "review" / f"{record.record_id}.json").exists()
    on_stream = [
        r for r in published(running, "selfeval.records.verified") if r.record_id == record.record_id
    ]
    assert [r.record_version for r in on_stream] == [2]


def test_a_held_out_scan_of_a_form_that_adds_up_wrong_is_confirmed_as_printed(
    system: tuple[RunningSystem, str], tmp_path: Path
) -> None:
    running, _ = system
    printed = load_fixture(FIXTURES / "planted" / "wrong_total_score.json").form
    drop_scan(running, printed, "held-out-planted.pdf", tmp_path, **HELD_OUT)
    record = wait_for_record(running.home / "outbox", "review", "held-out-planted.pdf")
    version = 1
    corrections = what_a_reviewer_types(record, printed)
    if corrections:  # first what the reading got wrong: nobody confirms a figure the record does not hold
        response = api(
            system,
            f"/records/{record.record_id}/corrections",
            {"reviewer": "王审核", "version": 1, "corrections": corrections, "note": "read off the scan"},
        )
        assert response.status_code == 200, response.text
        corrected = Record.model_validate_json(response.content)
        assert corrected.status is Status.needs_review, "the planted error still stands"
        assert corrected.failing_rules() == ["total_score"]
        version = corrected.record_version
    response = api(
        system,
        f"/records/{record.record_id}/confirm",
        {"reviewer": "王审核", "version": version, "note": "总分 on the form is 0.10 too high"},
    )
    assert response.status_code == 200, response.text
    confirmed = Record.model_validate_json(response.content)
    assert confirmed.status is Status.confirmed
    assert confirmed.failing_rules() == ["total_score"]
    outbox = running.home / "outbox"
    assert [p.parent.name for p in outbox.rglob(f"{record.record_id}.json")] == ["confirmed"]
    on_stream = [
        r for r in published(running, "selfeval.records.confirmed") if r.record_id == record.record_id
    ]
    assert [r.record_version for r in on_stream] == [version + 1]


def test_the_command_line_settles_records_through_the_api(system: tuple[RunningSystem, str]) -> None:
    """`selfeval review` as a reviewer types it, against the API `selfeval up` started."""
    import os
    import subprocess
    import sys

    from selfeval.outbox import LocalOutbox
    from selfeval.publishing import publish_record
    from services.scorer import score_record

    running, token = system
    planted = [
        score_record(load_fixture(FIXTURES / "planted" / f"{name}.json"))
        for name in ("grade_mismatch", "score_above_weight")
    ]

    async def put_in_review() -> None:
        from selfeval.bus.connection import connect

        nc = await connect(running.nats_url, "test-writer", initial_timeout=10)
        try:
            for record in planted:
                await publish_record(nc.jetstream(), LocalOutbox(running.home / "outbox"), record)
        finally:
            await nc.close()

    asyncio.run(put_in_review())
    env = {**os.environ, "SELFEVAL_HOME": str(running.home), "SELFEVAL_REVIEW_TOKEN": token}

    def review(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "selfeval", "review", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    listed = review("list")
    assert listed.returncode == 0, listed.stderr
    for record in planted:
        assert record.record_id in listed.stdout
    grade_id, score_id = (record.record_id or "" for record in planted)
    shown = review("show", grade_id)
    assert Record.model_validate_json(shown.stdout).record_id == grade_id
    wrong = review("correct", grade_id, "form.total_score=ninety")
    assert wrong.returncode == 2 and "422" in wrong.stderr and wrong.stderr.count("\n") == 1
    stale = review("confirm", grade_id, "--version", "7")
    assert stale.returncode == 2 and "409" in stale.stderr
    printed_grade = next(c.expected for c in planted[0].checks if c.rule == "grade" and c.expected)
    corrected = review("correct", grade_id, f"form.grade={printed_grade}", "--note", "优 misread")
    assert corrected.returncode == 0, corrected.stderr
    assert corrected.stdout.startswith(f"verified  {grade_id}  version 2")
    confirmed = review("confirm", score_id, "--note", "the unit scored above the weight")
    assert confirmed.returncode == 0, confirmed.stderr
    assert confirmed.stdout.startswith(f"confirmed  {score_id}  version 2")
    outbox = running.home / "outbox"
    assert (outbox / "verified" / f"{grade_id}.json").exists()
    assert (outbox / "confirmed" / f"{score_id}.json").exists()
    unsigned = subprocess.run(
        [sys.executable, "-m", "selfeval", "review", "list"],
        env={**env, "SELFEVAL_REVIEW_TOKEN": "not-a-reviewer"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert unsigned.returncode == 2 and "401" in unsigned.stderr
