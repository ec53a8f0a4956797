"""The outbox: where finished records land as `<status dir>/<record_id>.json` for people and tools.

Writes are idempotent (the same record written twice leaves one identical file) and atomic (a reader
never sees half a file): locally via a temp file renamed into place, on S3 because a PUT is atomic.
A name is only ever built from a record id that matches its pattern, and a local path that would
resolve outside the outbox (a status folder that is a symlink elsewhere) is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from selfeval.atomic_files import write_atomically
from selfeval.contract.messages import RECORD_CHANNELS, record_channel
from selfeval.contract.record import Record, Status, is_record_id


def record_bytes(record: Record) -> bytes:
    return (record.model_dump_json(indent=2) + "\n").encode()


def record_name(record: Record) -> str:
    if not record.record_id:
        raise ValueError("a record without record_id cannot go to the outbox")
    return file_name(record.record_id)


def file_name(record_id: str) -> str:
    """`<record_id>.json`; anything that is not a record id (a path, `..`) is refused."""
    if not is_record_id(record_id):
        raise ValueError(f"not a record id: {record_id!r}")
    return f"{record_id}.json"


class Outbox(Protocol):
    def write_record(self, record: Record) -> str:
        """Store the record under its status; returns where it went (path or s3:// URL)."""
        ...

    def read_record(self, record_id: str, status: Status | None) -> Record | None:
        """The record written under that id and status, or None."""
        ...

    def record_ids(self, status: Status) -> list[str]:
        """The ids of the records written under that status."""
        ...


def current_record(outbox: Outbox, record_id: str) -> Record | None:
    """The record's current version, in whichever status folder it is now. Two copies exist only for
    the moment between writing a new version and removing the old one: the higher version is current."""
    found = [record for status in Status if (record := outbox.read_record(record_id, status)) is not None]
    return max(found, key=lambda record: record.record_version, default=None)


class LocalOutbox:
    """`<root>/{verified,review,rejected}/<record_id>.json` on a local filesystem."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path_for(self, record: Record) -> Path:
        return self._inside(self.root / record_channel(record.status) / record_name(record))

    def _inside(self, path: Path) -> Path:
        root = self.root.resolve()
        if not path.resolve().is_relative_to(root):
            raise ValueError(f"{path} resolves outside the outbox {root}")
        return path

    def write_record(self, record: Record) -> str:
        target = self.path_for(record)
        data = record_bytes(record)
        if not (target.is_file() and target.read_bytes() == data):
            write_atomically(target, data)
        self._drop_other_statuses(record, target)
        return str(target)

    def read_record(self, record_id: str, status: Status | None) -> Record | None:
        path = self._inside(self.root / record_channel(status) / file_name(record_id))
        try:
            return Record.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return None

    def record_ids(self, status: Status) -> list[str]:
        folder = self.root / record_channel(status)
        # Temp files of writes in progress are hidden (`.name.tmp`) and do not match a record id.
        return sorted(path.stem for path in folder.glob("*.json") if is_record_id(path.stem))

    def _drop_other_statuses(self, record: Record, keep: Path) -> None:
        # A record re-processed into another status must not stay in its old folder too.
        for name in RECORD_CHANNELS.values():
            other = self._inside(self.root / name / keep.name)
            if other != keep:
                other.unlink(missing_ok=True)


class S3Client(Protocol):
    """The part of a boto3 S3 client the outbox uses."""

    def put_object(self, **kwargs: Any) -> Any: ...

    def get_object(self, **kwargs: Any) -> Any: ...

    def delete_object(self, **kwargs: Any) -> Any: ...

    def get_paginator(self, operation_name: str) -> Any: ...


class S3Outbox:
    """`s3://<bucket>/<prefix>/{verified,review,rejected}/<record_id>.json` via a boto3 S3 client."""

    def __init__(self, bucket: str, prefix: str, client: S3Client) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client

    def key_for(self, record: Record) -> str:
        return self._key(record_channel(record.status), record_name(record))

    def _key(self, folder: str, name: str) -> str:
        return "/".join(part for part in (self.prefix, folder, name) if part)

    def write_record(self, record: Record) -> str:
        key = self.key_for(record)
        self.client.put_object(
            Bucket=self.bucket, Key=key, Body=record_bytes(record), ContentType="application/json"
        )
        for folder in RECORD_CHANNELS.values():
            other = self._key(folder, record_name(record))
            if other != key:
                # Deleting a missing key is not an error on S3.
                self.client.delete_object(Bucket=self.bucket, Key=other)
        return f"s3://{self.bucket}/{key}"

    def read_record(self, record_id: str, status: Status | None) -> Record | None:
        key = self._key(record_channel(status), file_name(record_id))
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except Exception as exc:  # botocore's NoSuchKey lives on the client; match it by code
            if _s3_error_code(exc) in {"NoSuchKey", "404"}:
                return None
            raise
        return Record.model_validate_json(body)

    def record_ids(self, status: Status) -> list[str]:
        folder = self._key(record_channel(status), "") + "/"
        ids = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=folder):
            for entry in page.get("Contents", []):
                name = entry["Key"].rsplit("/", 1)[-1]
                if name.endswith(".json") and is_record_id(name.removesuffix(".json")):
                    ids.append(name.removesuffix(".json"))
        return sorted(ids)


def _s3_error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None
