"""A planted arithmetic mistake survives the reading: scanned in each typeface family and scan mode, it is
read as printed and named by its own rule, and the record needs review (never verified)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scangen import scan_forms, write_pdf
from scangen.fixtures import REAL_FORMS, load_fixture
from scangen.planted import Mistake, plant
from selfeval.contract import Status
from selfeval.in_process import process_bytes
from services.ocr import InputRejected, OcrEngine

pytestmark = pytest.mark.system

LOOKS = [
    {"font": font, "mode": mode}
    for font, mode in (
        ("song", "grey"),
        ("fangsong", "colour"),
        ("kai", "bw"),
        ("hei", "grey"),
        ("song", "bw"),
        ("fangsong", "grey"),
        ("kai", "colour"),
    )
]


@pytest.mark.parametrize("mistake", list(Mistake), ids=str)
def test_a_planted_mistake_in_a_scan_is_named_by_its_rule(
    engine: OcrEngine, tmp_path: Path, mistake: Mistake
) -> None:
    look = LOOKS[list(Mistake).index(mistake)]
    form = plant(load_fixture(REAL_FORMS[1]).form, mistake)
    pages = scan_forms([form], quality="office", seed=23, signature=False, seal="none", **look)
    pdf = write_pdf(pages, tmp_path / f"{mistake}.pdf")
    (record,) = process_bytes(engine, pdf.read_bytes(), pdf.name, 0.8, (InputRejected,))
    assert record.status is Status.needs_review
    assert record.failed_rules() == [mistake.value], record.reason
