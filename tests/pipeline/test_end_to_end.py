"""The product as users run it: scans dropped into an S3 bucket come out as verified records.

Real processes throughout: SeaweedFS, `selfeval up` (nats-server, Prefect server, the three services,
the watcher, the API) and real PaddleOCR.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from scangen import scan_forms, write_pdf
from scangen.compare import field_differences
from selfeval.contract import Form, Status
from tests.conftest import REAL_FORMS, load_fixture
from tests.pipeline.records_stream import collect_records
from tests.pipeline.system import (
    RunningSystem,
    SeaweedFS,
    flow_runs,
    nats_accepts,
    s3_env,
    start_seaweedfs,
    start_system,
    system_env,
    task_runs,
)

BUCKET = "selfeval-e2e"
STAGES = {"ocr", "parse", "score", "publish"}


@pytest.fixture(scope="module")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    server = start_seaweedfs(tmp_path_factory.mktemp("s3"), BUCKET)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, seaweedfs: SeaweedFS) -> Iterator[RunningSystem]:
    running = start_system(tmp_path_factory.mktemp("home"), s3_env(seaweedfs, BUCKET))
    yield running
    assert running.stop() == 0, running.logs()


def pdf_bytes(forms: list[Form], seed: int, tmp_path: Path, name: str) -> bytes:
    path = write_pdf(scan_forms(forms, quality="office", dpi=200, seed=seed, classic=True), tmp_path / name)
    return Path(path).read_bytes()


def test_scans_in_the_bucket_come_out_as_one_verified_record_per_form(
    system: RunningSystem, seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    forms = {path.stem: load_fixture(path).form for path in REAL_FORMS}
    submissions = {
        "inbox/form_02.pdf": pdf_bytes([forms["form_02"]], 2, tmp_path, "a.pdf"),
        "inbox/form_03.pdf": pdf_bytes([forms["form_03"]], 3, tmp_path, "b.pdf"),
        "inbox/batch/forms_01_04.pdf": pdf_bytes([forms["form_01"], forms["form_04"]], 4, tmp_path, "c.pdf"),
    }
    s3 = seaweedfs.client()
    for key, data in submissions.items():
        s3.upload_fileobj(io.BytesIO(data), BUCKET, key)
    expected = {
        forms[name].project_name: forms[name] for name in ("form_01", "form_02", "form_03", "form_04")
    }

    first = collect_records(system.nats_url, expected=len(expected), timeout=600, linger=0)
    # The same bytes again under another name, after processing: recognised, no second record.
    s3.upload_fileobj(io.BytesIO(submissions["inbox/form_03.pdf"]), BUCKET, "inbox/copy-of-form_03.pdf")
    records = collect_records(system.nats_url, expected=len(first) + 1, timeout=10, linger=0)

    assert Counter(r.status for r in records) == {Status.verified: len(expected)}, [
        (r.form.project_name, r.status, r.reason) for r in records
    ]
    assert len({r.record_id for r in records}) == len(records)
    by_project = {r.form.project_name: r for r in records}
    assert set(by_project) == set(expected)
    for project, record in by_project.items():
        assert field_differences(record.form, expected[project]) == [], project
    batch = [r for r in records if r.submission.source == "inbox/batch/forms_01_04.pdf"]
    assert sorted(r.submission.pages[0] for r in batch) == [1, 3]

    outbox = s3.list_objects_v2(Bucket=BUCKET, Prefix="outbox/verified/").get("Contents", [])
    assert sorted(o["Key"].rsplit("/", 1)[-1] for o in outbox) == sorted(
        f"{r.record_id}.json" for r in records
    )

    runs = flow_runs(system, "submission")
    assert sorted(run["name"] for run in runs) == sorted(submissions)
    for run in runs:  # each ends named after its outcome, tagged with it and its short submission id
        assert (run["state_type"], run["state_name"]) == ("COMPLETED", "Verified"), run["name"]
        assert "verified" in run["tags"] and run["parameters"]["submission_id"][:12] in run["tags"]
        stages = {task["name"].rsplit("-", 1)[0]: task["state_type"] for task in task_runs(system, run["id"])}
        assert stages == dict.fromkeys(STAGES, "COMPLETED"), run["name"]
    (watcher_run,) = flow_runs(system, "bucket-watcher")
    assert watcher_run["state_type"] == "RUNNING" and watcher_run["deployment_id"]


CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_prefect_ui_shows_the_flow_run_of_a_processed_submission(
    system: RunningSystem, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    runs = [run for run in flow_runs(system, "submission") if run["state_type"] == "COMPLETED"]
    assert runs, "the end-to-end test processes submissions first"
    name = sorted(run["name"] for run in runs)[0]
    ui = system.prefect_api_url.removesuffix("/api")
    screenshot = tmp_path / "prefect-flow-run.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{ui}/runs", wait_until="networkidle")
        page.get_by_role("link", name=name, exact=True).first.click()  # find it in the list, as a user does
        page.wait_for_url("**/runs/flow-run/**")
        expect(page.get_by_text("Parent Run")).to_be_visible(timeout=30_000)  # the flow run's own page
        expect(page.get_by_text(name, exact=True).first).to_be_visible()
        expect(page.get_by_text("Verified").first).to_be_visible()  # the outcome, not just "Completed"
        for stage in sorted(STAGES):  # the stage tasks on the run's timeline
            expect(page.get_by_text(re.compile(rf"^{stage}-[0-9a-f]+$")).first).to_be_visible(timeout=30_000)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot of flow run {name!r}: {screenshot}")


def test_http_api_takes_a_scan_and_serves_its_state_and_record(system: RunningSystem, tmp_path: Path) -> None:
    import httpx

    form = load_fixture(REAL_FORMS[5]).form
    data = pdf_bytes([form], 6, tmp_path, "api.pdf")
    api = httpx.Client(base_url=system.api_url, timeout=30)
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").json() == {"nats": "ok", "prefect": "ok"}
    response = api.post("/submissions", files={"file": ("自评表 2024.pdf", data, "application/pdf")})
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["content_type"] == "application/pdf" and accepted["size"] == len(data)
    submission_id = accepted["submission_id"]
    state: dict[str, object] = {}
    for _ in range(240):
        reply = api.get(f"/submissions/{submission_id}")
        if reply.status_code == 200:
            state = reply.json()
            if state["stages"]["publish"] == "done":  # type: ignore[index]
                break
        time.sleep(0.5)
    assert state.get("statuses") == ["verified"], state
    (record_id,) = state["record_ids"]  # type: ignore[misc]
    record = api.get(f"/records/{record_id}").json()
    assert record["status"] == "verified" and record["submission"]["sha256"] == submission_id
    assert record["form"]["project_name"] == form.project_name
    # The pages the OCR read are kept and served, and the record says where its values sit on them.
    for page in record["submission"]["pages"]:
        image = api.get(f"/submissions/{submission_id}/pages/{page}.png")
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert (
        record["provenance"]["field_locations"]["form.total_score"]["page"] in record["submission"]["pages"]
    )
    assert api.get("/records/" + "0" * 24).status_code == 404
    assert api.get("/records/0123456789abcdef").status_code == 400  # not 24 hex digits
    assert api.get("/submissions/not-a-hash").status_code == 400
    event = {"Records": [{"s3": {"object": {"key": "inbox/form_02.pdf"}}}]}
    assert api.post("/events/s3", json=event).json() == {"accepted": ["inbox/form_02.pdf"]}
    metrics = api.get("/metrics").text
    assert "selfeval_api_uploads_total 1.0" in metrics and "selfeval_api_bucket_events_total 1.0" in metrics


def test_the_cli_reads_records_and_state_with_the_credentials_up_generated(
    system: RunningSystem, seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    """`selfeval tail` and `selfeval submit --wait` on the same machine as `selfeval up`, configured with
    nothing but SELFEVAL_HOME (and the bucket): they connect as the client role from its credential."""
    env = system_env(system.home, s3_env(seaweedfs, BUCKET))
    tail = subprocess.run(
        [sys.executable, "-m", "selfeval", "tail", "--json", "--count", "1", "--idle", "30"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tail.returncode == 0, tail.stderr
    assert json.loads(tail.stdout.splitlines()[0])["status"] == "verified"
    scan = tmp_path / "again.pdf"  # bytes already processed: `--wait` finds their state finished
    scan.write_bytes(pdf_bytes([load_fixture(REAL_FORMS[1]).form], 2, tmp_path, "a.pdf"))
    submit = subprocess.run(
        [sys.executable, "-m", "selfeval", "submit", "--wait", "--timeout", "120", str(scan)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert submit.returncode == 0, submit.stderr
    assert submit.stdout.splitlines()[-1].startswith("verified  加强科技类社会组织党建工作"), submit.stdout


def test_the_embedded_nats_refuses_anonymous_clients_and_no_part_overstepped(system: RunningSystem) -> None:
    assert nats_accepts(system.endpoints["nats_url"]) is False
    server_log = (system.home / "nats" / "nats-server.log").read_text(errors="replace")
    assert "Violation" not in server_log  # every part did its work within its permissions
