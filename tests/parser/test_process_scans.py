"""`selfeval process` on rendered scans, compared field by field with the forms that were printed.

Real OCR on generated office-quality scans (±1° skew, noise, a red seal, JPEG): every figure, the
header and the grade must be read exactly and every form verified; the prose (names, goals, target
texts) may carry the odd misread character, which is measured and bounded here.
"""

from __future__ import annotations

import difflib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from selfeval.contract import Form, Record, Status
from tests.conftest import REAL_FORMS, load_fixture
from tests.records import field_differences, leaf_values
from tests.scangen import random_form, scan_forms, write_pdf, write_tiff

# Prose fields, where a misread character does not change a figure the scorer checks.
PROSE = (".name", ".target", ".actual", ".expected", ".deviation_reason")
MAX_PROSE_CHARACTER_ERRORS = 0.002  # measured: 2 characters in ~5,000 on the eight real forms


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


def prose_texts(form: Form) -> dict[str, str]:
    return {
        path: value
        for path, value in leaf_values(form).items()
        if isinstance(value, str) and path.endswith(PROSE)
    }


def character_errors(got: Form, want: Form) -> tuple[int, int]:
    """Edit operations between the prose of two forms, and the printed prose's length."""
    got_texts, want_texts = prose_texts(got), prose_texts(want)
    errors = total = 0
    for path, text in want_texts.items():
        matcher = difflib.SequenceMatcher(None, got_texts.get(path, ""), text, autojunk=False)
        errors += sum(
            max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"
        )
        total += len(text)
    return errors, total


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
    pdf = Path(write_pdf(scan_forms(forms, quality="office", dpi=200, seed=11), root / "all-eight-forms.pdf"))
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


def test_figures_header_and_grade_exact_and_prose_nearly(eight_forms_processed: Processed) -> None:
    records, forms = eight_forms_processed.records, eight_forms_processed.forms
    by_project = {r.form.project_name: r for r in records}
    errors = total = 0
    for form in forms:
        record = by_project[form.project_name]
        exact_fields = [
            d for d in field_differences(record.form, form) if not d.split(":")[0].endswith(PROSE)
        ]
        assert exact_fields == [], form.project_name
        form_errors, form_total = character_errors(record.form, form)
        errors, total = errors + form_errors, total + form_total
    print(f"prose character errors: {errors} of {total} ({errors / total:.3%})")
    assert errors / total <= MAX_PROSE_CHARACTER_ERRORS


def test_pages_of_each_form_are_recorded(eight_forms_processed: Processed) -> None:
    records = eight_forms_processed.records
    pages = sorted(page for record in records for page in record.submission.pages)
    assert pages == list(range(1, len(pages) + 1))
    assert max(len(r.submission.pages) for r in records) >= 3  # form 8 runs over several pages


def test_random_variants_as_tiff_and_png_exact(tmp_path: Path) -> None:
    forms = [random_form(seed) for seed in (101, 102)]
    tiff = Path(write_tiff(scan_forms([forms[0]], quality="office", seed=5), tmp_path / "variant.tiff"))
    pages = scan_forms([forms[1]], quality="office", seed=6)
    pdf = Path(write_pdf(pages, tmp_path / "variant.pdf"))
    code, records, output = run_process([tiff, pdf], tmp_path / "records")
    assert len(records) == 2, output
    by_project = {r.form.project_name: r for r in records}
    for form in forms:
        record = by_project[form.project_name]
        assert record.status is Status.verified, (record.reason, output)
        assert [d for d in field_differences(record.form, form) if not d.split(":")[0].endswith(PROSE)] == []
    assert code == 0


def test_records_are_named_by_record_id(eight_forms_processed: Processed) -> None:
    names = sorted(path.name for path in eight_forms_processed.out.glob("*.json"))
    assert names == sorted(f"{r.record_id}.json" for r in eight_forms_processed.records)
    assert len(set(names)) == 8
