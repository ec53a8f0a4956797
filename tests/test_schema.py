"""The checked-in JSON Schema is the one the models generate.

Regenerate it with `selfeval schema > schema/record.schema.json`.
"""

import json
from pathlib import Path

import pytest

from selfeval.contract import SCHEMA_VERSION, record_json_schema

pytestmark = pytest.mark.unit

SCHEMA_FILE = Path(__file__).parents[1] / "schema" / "record.schema.json"


def test_checked_in_schema_matches_the_models() -> None:
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == record_json_schema(), (
        "schema/record.schema.json is stale: run `selfeval schema > schema/record.schema.json`"
    )


def test_schema_names_the_contract_fields() -> None:
    schema = record_json_schema()
    assert {"record_id", "schema_version", "submission", "status", "form", "checks", "provenance"} <= set(
        schema["properties"]
    )
    form = schema["$defs"]["Form"]["properties"]
    assert {"funding", "goals", "indicators", "total_score", "grade"} <= set(form)
    assert SCHEMA_VERSION == "1.1"


def test_fields_needing_review_are_those_of_failed_error_checks_and_what_skipped_ones_miss() -> None:
    from selfeval.contract import Check, CheckStatus, Form, Funding, FundingRow, Record, Severity

    empty = FundingRow()
    form = Form(funding=Funding(total=empty, current_year_appropriation=empty, carryover=empty, other=empty))

    def check(status: CheckStatus, severity: Severity, *fields: str) -> Check:
        return Check(rule="r", severity=severity, status=status, message="m", fields=list(fields))

    record = Record(
        form=form,
        checks=[
            check(CheckStatus.passed, Severity.error, "form.year"),
            check(CheckStatus.failed, Severity.error, "form.total_score", "form.grade"),
            check(CheckStatus.failed, Severity.warning, "form.project_name"),
            check(CheckStatus.skipped, Severity.error, "form.grade", "form.funding.total.score"),
            check(CheckStatus.skipped, Severity.error, "form.year"),
        ],
    )
    # A skipped rule names only what it misses: here every field is empty, but the year is read.
    record.form.year = 2024
    assert record.fields_needing_review() == ["form.total_score", "form.grade", "form.funding.total.score"]


def test_rules_that_could_not_run_are_told_from_those_that_failed() -> None:
    from selfeval.contract import Check, CheckStatus, Form, Funding, FundingRow, Record, Severity

    def check(rule: str, status: CheckStatus, severity: Severity = Severity.error) -> Check:
        return Check(rule=rule, severity=severity, status=status, message="m", fields=["form.grade"])

    empty = FundingRow()
    funding = Funding(total=empty, current_year_appropriation=empty, carryover=empty, other=empty)
    record = Record(
        form=Form(funding=funding),
        checks=[
            check("total_score", CheckStatus.failed),
            check("grade", CheckStatus.skipped),
            check("field_readable", CheckStatus.failed),
            check("field_readable", CheckStatus.skipped),  # failed elsewhere: it failed
            check("default_weights", CheckStatus.skipped, Severity.warning),
        ],
    )
    assert record.failing_rules() == ["field_readable", "grade", "total_score"]
    assert record.unchecked_rules() == ["grade"]


def test_record_paths_are_read_one_way() -> None:
    from selfeval.contract.paths import path_steps

    assert path_steps("form.indicators[3].score") == [("indicators", 3), ("score", None)]
    assert path_steps("form.funding.total.executed") == [
        ("funding", None),
        ("total", None),
        ("executed", None),
    ]
    for not_a_path in ("total_score", "form.", "form.indicators[x].score", "form.a b"):
        with pytest.raises(ValueError):
            path_steps(not_a_path)
