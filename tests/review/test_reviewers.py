"""The reviewers file: hashes only, every line checked, tokens compared against every entry."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from selfeval.review.reviewers import (
    ReviewersFile,
    ReviewersFileError,
    add_reviewer,
    parse_reviewers,
    token_hash,
)

pytestmark = pytest.mark.unit


def test_a_token_names_its_reviewer_and_nothing_else_does() -> None:
    reviewers = parse_reviewers(
        f"# reviewers\n\nalice:{token_hash('a-token')}\nbob wang:{token_hash('b-token').upper()}\n", "file"
    )
    assert reviewers.authenticate("a-token") == "alice"
    assert reviewers.authenticate("b-token") == "bob wang"
    assert reviewers.authenticate("a-token ") is None
    assert reviewers.authenticate(token_hash("a-token")) is None, "the hash itself is no token"
    assert reviewers.authenticate("") is None
    assert reviewers.authenticate(None) is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("alice", "file:1: expected 'name:sha256-hex-of-token'"),
        ("alice:abc", "file:1:"),
        (f":{token_hash('x')}", "file:1:"),
        (f"# ok\nalice:{token_hash('x')}\nalice:{token_hash('y')}", "file:3: reviewer 'alice' is listed"),
    ],
)
def test_a_malformed_line_is_named(text: str, says: str) -> None:
    with pytest.raises(ReviewersFileError, match=says):
        parse_reviewers(text, "file")


def test_added_reviewers_are_stored_as_hashes_in_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "reviewers"
    alice = add_reviewer(path, "alice")
    bob = add_reviewer(path, "bob")
    text = path.read_text()
    assert alice not in text and bob not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reviewers = ReviewersFile(path)
    assert (reviewers.authenticate(alice), reviewers.authenticate(bob)) == ("alice", "bob")
    with pytest.raises(ReviewersFileError, match="listed already"):
        add_reviewer(path, "alice")


def test_the_file_is_read_again_when_it_changes_and_a_broken_one_admits_nobody(tmp_path: Path) -> None:
    path = tmp_path / "reviewers"
    reviewers = ReviewersFile(path)
    assert reviewers.authenticate("anything") is None, "no file: nobody"
    token = add_reviewer(path, "alice")
    assert reviewers.authenticate(token) == "alice", "added while running"
    path.write_text(path.read_text() + "this line is broken\n")
    assert reviewers.authenticate(token) is None
