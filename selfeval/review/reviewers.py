"""Who may review: the reviewers file (`SELFEVAL_REVIEWERS`), one `name:sha256-hex-of-token` a line.

Only hashes are stored, so the file can be read by operators without handing out tokens. A token is
checked against every entry with a constant-time comparison of the hashes, so neither the answer's
timing nor an early exit tells how much of a guess was right.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from selfeval.atomic_files import write_atomically
from selfeval.logs import get_logger

log = get_logger("selfeval.review")

_NAME = re.compile(r"^[\w.@\- ]{1,64}$")
_HASH = re.compile(r"^[0-9a-f]{64}$")


class ReviewersFileError(ValueError):
    """The reviewers file cannot be used; the message names the file and line."""


class ReviewerDirectory(Protocol):
    def authenticate(self, token: str | None) -> str | None:
        """The name of the reviewer whose token this is, or None."""
        ...


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Reviewers:
    hashes: dict[str, str]
    """name → SHA-256 hex of the reviewer's token"""

    def authenticate(self, token: str | None) -> str | None:
        """The name of the reviewer whose token this is, or None."""
        if not token:
            return None
        presented = token_hash(token).encode()
        found = None
        for name, expected in self.hashes.items():  # no early exit: every entry is compared
            if hmac.compare_digest(presented, expected.encode()):
                found = name
        return found


NO_REVIEWERS = Reviewers({})


def parse_reviewers(text: str, source: str) -> Reviewers:
    hashes: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, separator, digest = line.rpartition(":")
        name, digest = name.strip(), digest.strip().lower()
        if not separator or not _NAME.match(name) or not _HASH.match(digest):
            raise ReviewersFileError(
                f"{source}:{number}: expected 'name:sha256-hex-of-token' (a name of letters, digits, "
                "'.', '@', '-', '_' or spaces, and 64 hex digits)"
            )
        if name in hashes:
            raise ReviewersFileError(f"{source}:{number}: reviewer {name!r} is listed twice")
        hashes[name] = digest
    return Reviewers(hashes)


def load_reviewers(path: Path | None) -> Reviewers:
    """The reviewers of the file; nobody when no file is configured."""
    if path is None:
        return NO_REVIEWERS
    try:
        return parse_reviewers(path.read_text(encoding="utf-8"), str(path))
    except OSError as exc:
        raise ReviewersFileError(f"cannot read the reviewers file {path}: {exc.strerror}") from None


class ReviewersFile:
    """The reviewers of a file, read again whenever it changes, so adding one needs no restart. A file
    that turns unreadable or malformed admits nobody (and says why in the log) until it is mended."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._reviewers = NO_REVIEWERS

    def authenticate(self, token: str | None) -> str | None:
        return self.current().authenticate(token)

    def current(self) -> Reviewers:
        try:
            stat = self.path.stat()
        except OSError:
            self._stamp, self._reviewers = None, NO_REVIEWERS
            return self._reviewers
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            try:
                self._reviewers = load_reviewers(self.path)
            except ReviewersFileError as exc:
                log.error("reviewers file refused; nobody may review until it is mended", error=str(exc))
                self._reviewers = NO_REVIEWERS
            self._stamp = stamp
        return self._reviewers


def add_reviewer(path: Path, name: str) -> str:
    """Add a reviewer with a new random token to the file (created 0600 when missing) and return the
    token; it is shown once and never stored."""
    existing = load_reviewers(path) if path.exists() else NO_REVIEWERS
    if not _NAME.match(name):
        raise ReviewersFileError(
            f"{name!r} is not a reviewer name (letters, digits, '.', '@', '-', '_', spaces)"
        )
    if name in existing.hashes:
        raise ReviewersFileError(f"{path}: reviewer {name!r} is listed already")
    token = secrets.token_urlsafe(24)
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    write_atomically(path, (old + f"{name}:{token_hash(token)}\n").encode())  # 0600, like every such file
    return token
