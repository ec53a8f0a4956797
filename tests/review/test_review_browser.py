"""A reviewer settles a real `needs_review` record in a real browser (Debian's chromium), on the whole
system as `selfeval up` runs it: a scan whose 1-bit seal hides figures of the 总分 rows comes out
needing review; the reviewer types what the seal hides, takes the arithmetic's suggestion for 总分 with
one key, and the record comes out `verified`, in `outbox/verified/` and on the records stream once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from scangen import scan_forms, write_pdf
from scangen.compare import is_figure, leaf_values
from scangen.fixtures import REAL_FORMS, load_fixture
from selfeval.contract import Record, Status
from selfeval.review.reviewers import add_reviewer
from tests.bus.support import records_on
from tests.pipeline.system import RunningSystem, start_system
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


def wait_for_record(outbox: Path, folder: str, timeout: float = 600) -> Record:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted((outbox / folder).glob("*.json"))
        if found:
            return Record.model_validate_json(found[0].read_bytes())
        time.sleep(1)
    raise TimeoutError(f"no record in {folder}/ after {timeout} s")


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
    pdf = write_pdf(
        scan_forms([printed], quality="office", seed=17, signature=False, **LOOK), tmp_path / "scan.pdf"
    )
    (running.home / "inbox" / "sealed.pdf").write_bytes(pdf.read_bytes())
    outbox = running.home / "outbox"
    record = wait_for_record(outbox, "review")
    truth, read = leaf_values(printed), leaf_values(record.form)
    misread = sorted(path for path, value in truth.items() if is_figure(path) and read.get(path) != value)
    assert "form.total_score" in misread, "the seal hides 总分 (else pick a scan where it does)"
    typed = [path for path in misread if path != "form.total_score"]

    screenshots = tmp_path / "screens"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 950}, locale="zh-CN")
        page.goto(running.api_url + "/review")
        page.get_by_label("令牌").fill(token)
        page.get_by_role("button", name="登录").click()
        expect(page.get_by_role("heading", name="待复核记录")).to_be_visible()
        page.screenshot(path=str(screenshots / "queue.png"), full_page=True)
        page.locator(f'a[href="/review/{record.record_id}"]').click()
        expect(page.get_by_test_id("status")).to_have_text("待复核")
        page.get_by_role("button", name="认领").click()
        expect(page.get_by_test_id("claim")).to_have_text("已由您认领")
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
        page.screenshot(path=str(screenshots / "record.png"), full_page=True)
        total.focus()
        total.press("=")
        expect(total).to_have_value(truth["form.total_score"] or "")
        page.get_by_test_id("save").click()
        expect(page.get_by_test_id("message")).to_contain_text("已核验")
        expect(page.get_by_test_id("status")).to_have_text("已核验")
        page.screenshot(path=str(screenshots / "verified.png"), full_page=True)
        browser.close()

    verified = wait_for_record(outbox, "verified", timeout=10)
    assert verified.record_id == record.record_id
    assert verified.status is Status.verified and verified.record_version == 3
    assert not list((outbox / "review").glob("*.json")), "one current record, in one folder"
    assert leaf_values(verified.form)["form.total_score"] == truth["form.total_score"]
    assert {c.reviewer for c in verified.provenance.corrections} == {"王审核"}
    on_stream = published(running, "selfeval.records.verified")
    assert [(r.record_id, r.record_version) for r in on_stream] == [(record.record_id, 3)]
    print(f"screenshots: {screenshots}")
