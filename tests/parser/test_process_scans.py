"""`selfeval process` on rendered scans, compared field by field with the forms that were printed.

Real OCR on generated office-quality scans (±1° skew, noise, a red seal, JPEG): every field of every
record (figures, header, grade and the prose of names, goals and target texts) must be read exactly,
and every form verified.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from scangen import random_form, scan_forms, write_pdf, write_tiff
from scangen.compare import field_differences
from selfeval.contract import Form, Record, Status
from tests.conftest import REAL_FORMS, load_fixture

pytestmark = pytest.mark.system


def run_process(files: list[Path], out: Path) -> tuple[int, list[Record], str]:
    """Exit status, the records written, and what was printed on stdout (logs go to stderr)."""
    result = subprocess.run(
        [sys.executable, "-m", "selfeval", "process", *map(str, files), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    records = [Record.model_validate_json(path.read_bytes()) for path in sorted(out.glob("*.json"))]
    return result.returncode, records, result.stdout


@dataclass
class Processed:
    code: int
    records: list[Record]
    output: str
    forms: list[Form]
    out: Path


@pytest.fixture(scope="module")
def eight_forms_processed(tmp_path_factory: pytest.TempPathFactory) -> Processed:
    root = tmp_path_factory.mktemp("scans")
    forms = [load_fixture(path).form for path in REAL_FORMS]
    pdf = Path(
        write_pdf(
            scan_forms(forms, quality="office", dpi=200, seed=11, classic=True), root / "all-eight-forms.pdf"
        )
    )
    code, records, output = run_process([pdf], root / "records")
    return Processed(code, records, output, forms, root / "records")


def test_every_form_of_a_multi_form_pdf_is_found_and_verified(eight_forms_processed: Processed) -> None:
    code, records, output, forms = (
        eight_forms_processed.code,
        eight_forms_processed.records,
        eight_forms_processed.output,
        eight_forms_processed.forms,
    )
    assert code == 0, output
    assert len(records) == len(forms)
    assert all(r.status is Status.verified for r in records), output
    assert len(output.strip().splitlines()) == len(forms)  # one summary line per form


def test_every_field_of_every_form_exact(eight_forms_processed: Processed) -> None:
    records, forms = eight_forms_processed.records, eight_forms_processed.forms
    by_project = {r.form.project_name: r for r in records}
    for form in forms:
        record = by_project[form.project_name]
        assert field_differences(record.form, form) == [], form.project_name


def test_pages_of_each_form_are_recorded(eight_forms_processed: Processed) -> None:
    records = eight_forms_processed.records
    pages = sorted(page for record in records for page in record.submission.pages)
    assert pages == list(range(1, len(pages) + 1))
    assert max(len(r.submission.pages) for r in records) >= 3  # form 8 runs over several pages


def test_random_variants_as_tiff_and_png_exact(tmp_path: Path) -> None:
    forms = [random_form(seed) for seed in (101, 102)]
    tiff = Path(
        write_tiff(scan_forms([forms[0]], quality="office", seed=5, classic=True), tmp_path / "variant.tiff")
    )
    pages = scan_forms([forms[1]], quality="office", seed=6, classic=True)
    pdf = Path(write_pdf(pages, tmp_path / "variant.pdf"))
    code, records, output = run_process([tiff, pdf], tmp_path / "records")
    assert len(records) == 2, output
    by_project = {r.form.project_name: r for r in records}
    for form in forms:
        record = by_project[form.project_name]
        assert record.status is Status.verified, (record.reason, output)
        assert field_differences(record.form, form) == [], form.project_name
    assert code == 0


def test_records_are_named_by_record_id(eight_forms_processed: Processed) -> None:
    names = sorted(path.name for path in eight_forms_processed.out.glob("*.json"))
    assert names == sorted(f"{r.record_id}.json" for r in eight_forms_processed.records)
    assert len(set(names)) == 8
