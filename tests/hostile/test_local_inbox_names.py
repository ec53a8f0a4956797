"""Keys of the local inbox never reach the filesystem outside it, whatever they contain."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfeval.inbox import LocalInbox

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("key", ["../../etc/passwd", "/etc/passwd", "a/../../outside.pdf", "..", "."])
def test_a_key_outside_the_inbox_is_refused_for_reading_and_writing(tmp_path: Path, key: str) -> None:
    inbox = LocalInbox(tmp_path / "inbox")
    with pytest.raises(ValueError, match="outside the inbox"):
        inbox.read(key)
    with pytest.raises(ValueError, match="outside the inbox"):
        inbox.put(key, b"%PDF-1.7")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inbox"]


def test_a_file_with_control_characters_in_its_name_is_listed_and_read_as_is(tmp_path: Path) -> None:
    inbox = LocalInbox(tmp_path / "inbox")
    name = "evil\x1b[31m\x07\nname.pdf"
    (tmp_path / "inbox" / name).write_bytes(b"%PDF-1.7 scan")
    (listed,) = inbox.list()
    assert listed.key == name and inbox.read(listed.key) == b"%PDF-1.7 scan"


def test_a_symlink_out_of_the_inbox_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the pipeline")
    inbox = LocalInbox(tmp_path / "inbox")
    (tmp_path / "inbox" / "passwd.pdf").symlink_to(secret)
    assert inbox.list() == []
    with pytest.raises(ValueError, match="outside the inbox"):
        inbox.read("passwd.pdf")
