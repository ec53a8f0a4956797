"""What the API accepts from a client before anything reaches the bucket."""

import pytest

from selfeval.api import safe_object_name
from selfeval.scan_files import sniff_content_type

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("filename", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("form\x00\x1b[31m.pdf", "form_31m.pdf"),
        ("自评表 2024.pdf", "自评表_2024.pdf"),
        ("", "upload"),
        ("...", "upload"),
        (None, "upload"),
    ],
)
def test_client_file_names_are_made_harmless(filename: str | None, safe: str) -> None:
    assert safe_object_name(filename) == safe


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"%PDF-1.7\n", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"II*\x00", "image/tiff"),
        (b"MM\x00*", "image/tiff"),
        (b"<html>", None),
        (b"", None),
    ],
)
def test_content_type_from_the_bytes_not_the_name(head: bytes, kind: str | None) -> None:
    assert sniff_content_type(head) == kind
