"""Forged hand-offs on a real nats-server, taken by the real parse, score and publish workers.

A message decides nothing about where a file goes: one that names a path, a record id that is not the
one `record_id_for` gives, a submission nobody submitted, or a status the scorer would not give is
dead-lettered with the reason. Nothing lands in the outbox or on the records stream, and the state of
the submission it names is left as it was.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext

from selfeval.bus.state import get_state
from selfeval.contract.messages import Stage, StageState, stage_subject
from selfeval.contract.record import Record, Status, record_id_for
from selfeval.embedded import EmbeddedNats
from selfeval.outbox import LocalOutbox
from tests.bus.support import (
    dead_letters,
    downstream,
    eventually,
    known_submission,
    open_bus,
    records_on,
    run,
    running_workers,
)
from tests.conftest import REAL_FORMS, load_fixture

SUBMISSION = "5" * 64
SOURCE = "inbox/real.pdf"


def record_json(**changes: Any) -> dict[str, Any]:
    """A rejected record of SUBMISSION as JSON, with fields replaced (dotted paths reach inside)."""
    data = Record.rejected(SUBMISSION, SOURCE, [], "unreadable").model_dump(mode="json")
    for path, value in changes.items():
        *parents, last = path.split(".")
        target = data
        for parent in parents:
            target = target[parent]
        target[last] = value
    return data


def verified_looking(status: str = "verified") -> dict[str, Any]:
    """A real form under SUBMISSION's proper record id, claiming `status` without having been scored."""
    form = load_fixture(REAL_FORMS[0]).form
    record = Record(form=form, status=Status(status))
    record.submission.sha256, record.submission.source, record.submission.pages = SUBMISSION, SOURCE, [1]
    record.record_id = record_id_for(SUBMISSION, 1, form)
    return record.model_dump(mode="json")


async def forge(js: JetStreamContext, stage: Stage, body: dict[str, Any]) -> None:
    """Publish straight onto the work subject, as any client allowed to publish there could."""
    await js.publish(stage_subject(stage), json.dumps(body, ensure_ascii=False).encode())


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def refused(
    nats_server: EmbeddedNats, home: Path, stage: Stage, body: dict[str, Any], known: bool = True
) -> tuple[str, StageState | None]:
    """Forge `body` onto `stage` with the real workers running: (the dead-letter reason, the stage's
    state afterwards). Fails if anything reached the records stream or the outbox."""

    async def scenario() -> tuple[str, StageState | None]:
        nc, js = await open_bus(nats_server.url)
        try:
            if known:
                await known_submission(js, SUBMISSION, SOURCE)
            async with running_workers(js, downstream(js, home)):
                await forge(js, stage, body)
                (letter,) = await eventually(lambda: dead_letters(js, stage))
                await asyncio.sleep(0.5)  # a record, had one been made, would be out by now
                assert await records_on(js) == []
            state = await get_state(js, SUBMISSION)
            return (letter.headers or {})["Selfeval-Error"], state.stages[stage] if state else None
        finally:
            await nc.close()

    return run(scenario())


@pytest.mark.parametrize(
    "record_id",
    ["ABSOLUTE", "../../../escaped", "../verified/planted", "a" * 24 + "/../../x", "0" * 23 + "\x00"],
    ids=["absolute-path", "dot-dot", "sibling-folder", "hex-then-dot-dot", "nul"],
)
def test_a_record_id_naming_a_path_writes_no_file_anywhere(
    nats_server: EmbeddedNats, tmp_path: Path, record_id: str
) -> None:
    files = tmp_path / "files"  # the nats-server keeps its store beside it
    home, elsewhere = files / "home", files / "elsewhere"
    elsewhere.mkdir(parents=True)
    if record_id == "ABSOLUTE":
        record_id = str(elsewhere / "planted")
    body = {"submission_id": SUBMISSION, "source": SOURCE, "records": [record_json(record_id=record_id)]}
    reason, publish = refused(nats_server, home, Stage.publish, body)
    assert reason.startswith("malformed publish message: records.0.record_id"), reason
    assert files_under(files) == [], "a file was written"
    assert publish is StageState.waiting


def test_a_record_id_other_than_the_one_its_submission_gives_is_refused(
    nats_server: EmbeddedNats, tmp_path: Path
) -> None:
    body = {"submission_id": SUBMISSION, "source": SOURCE, "records": [record_json(record_id="f" * 24)]}
    reason, _ = refused(nats_server, tmp_path / "home", Stage.publish, body)
    expected = Record.rejected(SUBMISSION, SOURCE, [], "unreadable").record_id
    assert f"record_id {'f' * 24} is not {expected}, the one its submission and first page give" in reason
    assert files_under(tmp_path / "home") == []


def test_a_record_of_another_submission_is_refused(nats_server: EmbeddedNats, tmp_path: Path) -> None:
    other = "6" * 64
    forged = record_json(**{"submission.sha256": other})
    body = {"submission_id": SUBMISSION, "source": SOURCE, "records": [forged]}
    reason, _ = refused(nats_server, tmp_path / "home", Stage.publish, body)
    assert f"it belongs to submission '{other}'" in reason
    assert files_under(tmp_path / "home") == []


def test_a_record_for_a_submission_nobody_submitted_is_refused_and_creates_no_state(
    nats_server: EmbeddedNats, tmp_path: Path
) -> None:
    body = {"submission_id": SUBMISSION, "source": SOURCE, "records": [verified_looking()]}
    reason, state = refused(nats_server, tmp_path / "home", Stage.publish, body, known=False)
    assert reason == f"no submission {SUBMISSION} is known (it has no state)"
    assert state is None
    assert files_under(tmp_path / "home") == []


@pytest.mark.parametrize("claimed", ["verified", "needs_review"])
def test_a_status_the_scorer_would_not_give_is_refused(
    nats_server: EmbeddedNats, tmp_path: Path, claimed: str
) -> None:
    record = verified_looking(claimed)
    # Break one figure: the total score no longer adds up, so the scorer says needs_review.
    if claimed == "verified":
        record["form"]["total_score"] = "12.00"
    body = {"submission_id": SUBMISSION, "source": SOURCE, "records": [record]}
    reason, publish = refused(nats_server, tmp_path / "home", Stage.publish, body)
    given = "needs_review" if claimed == "verified" else "verified"
    record_id = record["record_id"]
    assert (
        reason
        == f"invalid publish message: record {record_id} claims {claimed}, but its figures give {given}"
    )
    assert publish is StageState.waiting  # the real submission's publish stage is left as it was
    assert files_under(tmp_path / "home") == []


@pytest.mark.parametrize("submission_id", ["../../etc/passwd", "A" * 64, "5" * 63, "5" * 64 + "\n"])
def test_a_submission_id_that_is_not_a_sha256_never_names_an_object(
    nats_server: EmbeddedNats, tmp_path: Path, submission_id: str
) -> None:
    body = {"submission_id": submission_id, "source": SOURCE}
    reason, _ = refused(nats_server, tmp_path / "home", Stage.parse, body, known=False)
    assert reason.startswith("malformed parse message: submission_id: String should match pattern"), reason


@pytest.mark.unit
def test_the_outbox_refuses_paths_outside_it_whatever_the_record_says(tmp_path: Path) -> None:
    outbox = LocalOutbox(tmp_path / "outbox")
    escaping = Record.model_construct(**Record.rejected(SUBMISSION, SOURCE, [], "x").__dict__)
    escaping.record_id = "../../escaped"  # past validation, as a bug elsewhere might let it through
    with pytest.raises(ValueError, match="not a record id"):
        outbox.write_record(escaping)
    # A status folder that is a symlink out of the outbox is not written through either.
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "outbox").mkdir()
    (tmp_path / "outbox" / "rejected").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="resolves outside the outbox"):
        outbox.write_record(Record.rejected(SUBMISSION, SOURCE, [], "x"))
    assert list((tmp_path / "elsewhere").iterdir()) == []
    with pytest.raises(ValueError, match="not a record id"):
        outbox.read_record("../../etc/passwd", Status.rejected)
