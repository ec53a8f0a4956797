"""The watched bucket as a local folder: what is listed, what is held back, what is refused."""

from pathlib import Path

import pytest

from selfeval.inbox import LocalInbox, StableObjects, is_ignored_key

pytestmark = pytest.mark.unit


def test_put_is_atomic_and_listed(tmp_path: Path) -> None:
    inbox = LocalInbox(tmp_path)
    inbox.put("a/form.pdf", b"%PDF-1.7 ...")
    assert [(o.key, o.size) for o in inbox.list()] == [("a/form.pdf", 12)]
    assert inbox.read("a/form.pdf") == b"%PDF-1.7 ..."
    assert not list(tmp_path.rglob("*.part"))


@pytest.mark.parametrize("name", ["form.pdf.part", ".hidden.pdf", "~lock.pdf", "x.crdownload", "a/b/up.tmp"])
def test_partial_uploads_are_not_listed(tmp_path: Path, name: str) -> None:
    assert is_ignored_key(name)
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"half")
    assert LocalInbox(tmp_path).list() == []


def test_a_growing_file_is_read_only_once_it_settles(tmp_path: Path) -> None:
    inbox = LocalInbox(tmp_path)
    stable = StableObjects(settle_seconds=1.0)
    path = tmp_path / "scan.pdf"
    path.write_bytes(b"%PDF-1.7 part one")
    assert stable.settled(inbox.list(), now=0.0) == []
    path.write_bytes(b"%PDF-1.7 part one, part two")  # still being copied
    assert stable.settled(inbox.list(), now=0.8) == []
    assert stable.settled(inbox.list(), now=1.5) == []  # changed at 0.8: not settled until 1.8
    assert stable.next_settle_in(now=1.5) == pytest.approx(0.3)  # the watcher looks again then
    assert [o.key for o in stable.settled(inbox.list(), now=1.9)] == ["scan.pdf"]
    assert stable.next_settle_in(now=1.9) is None  # nothing left waiting: back to the poll interval


def test_a_batch_dropped_together_is_handed_out_largest_first(tmp_path: Path) -> None:
    inbox = LocalInbox(tmp_path)
    stable = StableObjects(settle_seconds=1.0)
    for name, size in (("a-one-page.jpg", 10), ("b-five-pages.pdf", 50), ("c-two-pages.tiff", 20)):
        (tmp_path / name).write_bytes(b"x" * size)
    stable.settled(inbox.list(), now=0.0)
    settled = stable.settled(inbox.list(), now=1.1)
    assert [o.key for o in settled] == ["b-five-pages.pdf", "c-two-pages.tiff", "a-one-page.jpg"]


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    inbox_dir = tmp_path / "inbox"
    inbox_dir.mkdir()
    (inbox_dir / "link.pdf").symlink_to(secret)
    assert LocalInbox(inbox_dir).list() == []


@pytest.mark.parametrize(
    "key", [".hidden/form.pdf", "batch/.cache/form.pdf", "inbox/.trash/2024/form.pdf", "a/.b/c/d.pdf"]
)
def test_files_in_hidden_folders_are_skipped_like_dotfiles(tmp_path: Path, key: str) -> None:
    assert is_ignored_key(key)
    path = tmp_path / key
    path.parent.mkdir(parents=True)
    path.write_bytes(b"%PDF-1.7 hidden")
    (tmp_path / "visible.pdf").write_bytes(b"%PDF-1.7 seen")
    assert [o.key for o in LocalInbox(tmp_path).list()] == ["visible.pdf"]


def test_a_file_that_looks_cut_short_waits_for_the_long_quiet_time(tmp_path: Path) -> None:
    inbox = LocalInbox(tmp_path)
    stable = StableObjects(settle_seconds=1.0, incomplete_seconds=60.0)
    path = tmp_path / "scan.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 first half")
    stable.settled(inbox.list(), now=0.0)
    (half,) = stable.settled(inbox.list(), now=1.0)  # settled: the reader finds it cut short...
    assert stable.hold(half, now=1.0) is True  # ...and holds it
    assert stable.settled(inbox.list(), now=30.0) == []  # a 30 s pause in the copy: still held
    assert stable.next_settle_in(now=30.0) == pytest.approx(30.0)
    path.write_bytes(b"\xff\xd8\xff\xe0 first half, second half")  # the copy goes on
    assert stable.settled(inbox.list(), now=31.0) == []  # changed: judged afresh after the short settle
    (whole,) = stable.settled(inbox.list(), now=32.0)
    assert not stable.is_held(whole)
    # A file that stays cut short for the whole quiet time is read as it is (and rejected downstream).
    assert stable.hold(whole, now=32.0) is True
    assert stable.settled(inbox.list(), now=90.0) == []
    (given_up,) = stable.settled(inbox.list(), now=91.5)
    assert stable.hold(given_up, now=91.5) is False
