"""The outbox: one file per record under its status, written atomically and idempotently."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from selfeval.contract.record import Record, Status
from selfeval.outbox import LocalOutbox, S3Outbox

pytestmark = pytest.mark.unit


def rejected(reason: str = "not a form") -> Record:
    return Record.rejected("9" * 64, "inbox/x.pdf", [], reason)


def test_local_outbox_writes_once_and_moves_a_record_whose_status_changed(tmp_path: Path) -> None:
    outbox = LocalOutbox(tmp_path)
    record = rejected()
    path = Path(outbox.write_record(record))
    assert path == tmp_path / "rejected" / f"{record.record_id}.json"
    mtime = path.stat().st_mtime_ns
    assert outbox.write_record(record) == str(path) and path.stat().st_mtime_ns == mtime  # untouched
    assert outbox.read_record(record.record_id or "", Status.rejected) == record
    record.status = Status.needs_review
    moved = Path(outbox.write_record(record))
    assert moved.parent.name == "review" and not path.exists()
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(
        ["rejected", "review", moved.name]
    )  # no temp files
    assert outbox.read_record("0" * 24, Status.verified) is None  # no such record


class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def put_object(self, **kwargs: Any) -> None:
        self.objects[kwargs["Bucket"], kwargs["Key"]] = kwargs["Body"]

    def delete_object(self, **kwargs: Any) -> None:
        self.objects.pop((kwargs["Bucket"], kwargs["Key"]), None)

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        try:
            return {"Body": io.BytesIO(self.objects[kwargs["Bucket"], kwargs["Key"]])}
        except KeyError:
            error = Exception("NoSuchKey")
            error.response = {"Error": {"Code": "NoSuchKey"}}  # type: ignore[attr-defined]
            raise error from None


def test_s3_outbox_keys_records_by_status_under_the_prefix(tmp_path: Path) -> None:
    client = FakeS3()
    outbox = S3Outbox("records", "selfeval/out/", client)
    record = rejected()
    assert outbox.write_record(record) == f"s3://records/selfeval/out/rejected/{record.record_id}.json"
    assert list(client.objects) == [("records", f"selfeval/out/rejected/{record.record_id}.json")]
    assert outbox.read_record(record.record_id or "", Status.rejected) == record
    assert outbox.read_record(record.record_id or "", Status.verified) is None
