"""`selfeval verify` and `selfeval schema` as a user runs them: a real process, real exit codes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, PLANTED, REAL_FORMS

pytestmark = pytest.mark.unit

SELFEVAL = [sys.executable, "-m", "selfeval"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SELFEVAL, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("path", REAL_FORMS[:2], ids=lambda p: p.stem)
def test_verify_real_form_exits_0_with_verified_record(path: Path) -> None:
    result = run("verify", str(path))
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["status"] == "verified"
    assert (
        record["form"]["funding"]["total"]["executed"]
        == json.loads(path.read_text())["form"]["funding"]["total"]["executed"]
    )
    assert all(isinstance(c["fields"], list) and c["fields"] for c in record["checks"])


def test_verify_planted_mistake_exits_3_naming_the_rule() -> None:
    name = "grade_mismatch"
    result = run("verify", str(FIXTURES / "planted" / f"{name}.json"))
    assert result.returncode == 3
    record = json.loads(result.stdout)
    assert record["status"] == "needs_review" and PLANTED[name]["rule"] in record["reason"]


def test_numbers_are_decimal_strings_even_from_json_numbers(tmp_path: Path) -> None:
    data = json.loads((REAL_FORMS[0]).read_text())
    data["form"]["funding"]["total"]["executed"] = 155.77  # a JSON number, read exactly (not as float)
    path = tmp_path / "numeric.json"
    path.write_text(json.dumps(data, ensure_ascii=False))
    result = run("verify", str(path))
    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout)["form"]["funding"]["total"]["executed"] == "155.77"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a record"),
        ('{"record_id": "x"}', "'form' is required"),
        ('{"form": {"funding": {}}}', "form.funding.total: Field required"),
        ('{"form": {"year": "二〇二四", "funding": {}}}', "form.year"),
        ("", "not JSON"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = run("verify", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in result.stderr


def test_missing_file_is_one_line() -> None:
    result = run("verify", "/nonexistent/record.json")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "no such file" in result.stderr


def test_schema_command_prints_the_schema() -> None:
    result = run("schema")
    assert result.returncode == 0 and json.loads(result.stdout)["title"] == "Record"


@pytest.mark.parametrize("command", [[], ["verify"], ["schema"]])
def test_help_everywhere(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.returncode == 0 and "Usage" in result.stdout
