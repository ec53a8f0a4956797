"""`selfeval ocr` on a sample scan, as a user runs it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).parents[1] / "samples" / "form_03.jpg"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "selfeval", *args], capture_output=True, text=True, timeout=300
    )


def test_ocr_prints_the_cell_tables_as_json() -> None:
    result = run("ocr", str(SAMPLE))
    assert result.returncode == 0, result.stderr
    tables = json.loads(result.stdout)
    (page,) = tables["pages"]
    assert page["dpi"] == 200 and page["tables"]
    texts = [cell["text"] for table in page["tables"] for cell in table["cells"]]
    assert "交通工具购置及更新" in texts and "99.94" in texts
    assert any("财政项目支出绩效自评表" in line["text"] for line in page["free_lines"])


def test_ocr_html_is_a_page_of_tables(tmp_path: Path) -> None:
    result = run("ocr", "--html", str(SAMPLE))
    assert result.returncode == 0, result.stderr
    assert "<table" in result.stdout and "rowspan=" in result.stdout and "交通工具购置及更新" in result.stdout


def test_ocr_of_a_non_scan_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("not an image")
    result = run("ocr", str(path))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "plain text" in result.stderr
