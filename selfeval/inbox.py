"""The watched bucket: a local folder (the embedded default) or an S3-compatible bucket.

Both list objects with enough to tell a finished upload from one still being written, and read an
object's bytes. Keys from the outside are never used as local paths without being checked.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from selfeval.atomic_files import write_atomically

if TYPE_CHECKING:
    from collections.abc import Iterator


@dataclass(frozen=True)
class InboxObject:
    key: str
    size: int
    version: str
    """Changes whenever the content may have changed (mtime+size locally, the ETag on S3)."""


class Inbox(Protocol):
    shows_partial_writes: bool
    """True when a listing can show an object while it is still being written (a local folder being
    copied into); False when only complete objects are listed (S3 lists an upload once it is done)."""

    def list(self) -> list[InboxObject]: ...

    def read(self, key: str) -> bytes: ...

    def put(self, key: str, data: bytes) -> None: ...

    def put_file(self, key: str, path: Path) -> None: ...

    def describe(self) -> str: ...


# Names upload tools give files they are still writing; never read those.
def inbox_key(submission_id: str, name: str, prefix: str = "") -> str:
    """Where a scan dropped by selfeval is put: its name after the start of its submission id, so the
    same name dropped with other bytes is another object, and a listing shows which submission it is."""
    return f"{prefix}{submission_id[:12]}-{name}"


_PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".uploading", ".filepart", ".swp")


def is_ignored_key(key: str) -> bool:
    """Partial-upload names, and anything hidden: a dotfile, or any file inside a hidden folder."""
    *folders, name = key.split("/")
    hidden = any(part.startswith(".") for part in folders if part)
    return hidden or name.startswith((".", "~")) or name.lower().endswith(_PARTIAL_SUFFIXES)


class LocalInbox:
    """A folder; subfolders are walked, hidden folders, dotfiles and partial-upload names skipped."""

    shows_partial_writes = True

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def describe(self) -> str:
        return str(self.root)

    def _files(self) -> Iterator[Path]:
        for folder, subfolders, files in os.walk(self.root):
            subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))  # not entered
            for name in sorted(files):
                path = Path(folder) / name
                if path.is_file() and not path.is_symlink():
                    yield path

    def list(self) -> list[InboxObject]:
        objects = []
        for path in self._files():
            key = path.relative_to(self.root).as_posix()
            if is_ignored_key(key):
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:  # removed between listing and stat
                continue
            objects.append(
                InboxObject(key=key, size=stat.st_size, version=f"{stat.st_mtime_ns}:{stat.st_size}")
            )
        return objects

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f"key outside the inbox: {key!r}")
        return path

    def read(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def put(self, key: str, data: bytes) -> None:
        """Write under a hidden temp name of this writer's own, then rename: the watcher never sees a
        half-written file, and concurrent writers of the same key never trip over each other."""
        write_atomically(self._path(key), data)

    def put_file(self, key: str, path: Path) -> None:
        write_atomically(self._path(key), path)


class S3Inbox:
    """A bucket (and optional prefix) on any S3-compatible store."""

    shows_partial_writes = False

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def list(self) -> list[InboxObject]:
        objects = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith("/") or is_ignored_key(key):
                    continue
                objects.append(InboxObject(key=key, size=item["Size"], version=item["ETag"].strip('"')))
        return objects

    def read(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)

    def put_file(self, key: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, self.prefix + key)


class StableObjects:
    """Objects whose listing has not changed for `settle_seconds`: a finished upload, not a growing one.

    S3 only lists completed uploads, but a local folder shows a file while it is being copied in, and
    a copy that pauses leaves it unchanged, half-written, for as long as the pause lasts. So an object
    the reader finds cut short (or cannot judge) is `hold`-ed: it must then stay unchanged for
    `incomplete_seconds` before it is read as it is.
    """

    def __init__(self, settle_seconds: float, incomplete_seconds: float = 0.0) -> None:
        self.settle_seconds = settle_seconds
        self.incomplete_seconds = max(settle_seconds, incomplete_seconds)
        self._first_seen: dict[str, tuple[str, float]] = {}
        self._held: dict[str, str] = {}
        """Key → the version of it that looked incomplete."""

    def settled(self, objects: list[InboxObject], now: float | None = None) -> list[InboxObject]:
        """The objects that have not changed for long enough, largest first.

        Largest first: when a batch is dropped at once, its long scans start first and the short ones
        fill in after, instead of one long scan finishing alone at the end while other OCR idles.
        """
        now = time.monotonic() if now is None else now
        ready = []
        present = set()
        for obj in objects:
            present.add(obj.key)
            seen = self._first_seen.get(obj.key)
            if seen is None or seen[0] != obj.version:
                self._first_seen[obj.key] = (obj.version, now)
                self._held.pop(obj.key, None)  # it changed: judge the new version afresh
                if self.settle_seconds > 0:
                    continue
            elif now - seen[1] < self._quiet_needed(obj.key):
                continue
            ready.append(obj)
        for key in set(self._first_seen) - present:
            del self._first_seen[key]
            self._held.pop(key, None)
        return sorted(ready, key=lambda obj: obj.size, reverse=True)

    def hold(self, obj: InboxObject, now: float | None = None) -> bool:
        """Note that this version of `obj` looks incomplete. True while it has to wait longer (it has
        not been unchanged for `incomplete_seconds` yet); False once it has, and is to be read as it is."""
        now = time.monotonic() if now is None else now
        version, since = self._first_seen.setdefault(obj.key, (obj.version, now))
        if version != obj.version:  # changed since it was listed: it will be judged again
            return True
        self._held[obj.key] = version
        return now - since < self.incomplete_seconds

    def is_held(self, obj: InboxObject) -> bool:
        return self._held.get(obj.key) == obj.version

    def _quiet_needed(self, key: str) -> float:
        return self.incomplete_seconds if key in self._held else self.settle_seconds

    def next_settle_in(self, now: float | None = None) -> float | None:
        """Seconds until the earliest object still settling would be ready (None when none is waiting),
        so the watcher can look again then instead of a whole poll interval later."""
        now = time.monotonic() if now is None else now
        waits = [
            since + self._quiet_needed(key) - now
            for key, (_, since) in self._first_seen.items()
            if now - since < self._quiet_needed(key)
        ]
        return max(0.0, min(waits)) if waits else None
