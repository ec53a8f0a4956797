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
    assert SCHEMA_VERSION == "1.0"
