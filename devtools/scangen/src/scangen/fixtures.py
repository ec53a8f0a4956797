"""The eight real forms of the repository (tests/fixtures/forms) as records.

The package is installed editable from the repository, so the fixtures are found beside it.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from selfeval.contract import Record

REPOSITORY = Path(__file__).resolve().parents[4]
FIXTURES = REPOSITORY / "tests" / "fixtures"
REAL_FORMS = sorted((FIXTURES / "forms").glob("form_*.json"))


def load_fixture(path: Path) -> Record:
    return Record.model_validate(json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal))


def real_forms() -> list[Record]:
    """The real forms in file order; a clear error when the package is not used from the repository."""
    if not REAL_FORMS:
        raise FileNotFoundError(
            f"no real forms under {FIXTURES / 'forms'}: install scangen editable from the selfeval "
            "repository (pip install -e devtools/scangen)"
        )
    return [load_fixture(path) for path in REAL_FORMS]
