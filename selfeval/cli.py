"""The `selfeval` command line: a thin entrypoint over the same functions the services call."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError

from selfeval.contract import Record, Status, record_json_schema

app = typer.Typer(
    help="selfeval: scanned 财政项目支出绩效自评表 in, verified JSON records out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

EXIT_VERIFIED = 0
EXIT_USAGE = 2
EXIT_NEEDS_REVIEW = 3
EXIT_REJECTED = 4


class UserError(Exception):
    """A mistake in what the user gave us: reported as one line, never a traceback."""


def fail(message: str) -> NoReturn:
    typer.echo(f"selfeval: error: {message}", err=True)
    raise typer.Exit(EXIT_USAGE)


def describe_validation_error(error: ValidationError) -> str:
    problems = error.errors()
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"]) or "record"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}: {first['msg']}{more}"


def load_record(path: Path) -> Record:
    """Read a record; numbers stay exact (JSON numbers are read as Decimal, never float)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read: {exc}") from None
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(data, dict) or "form" not in data:
        raise UserError(f"{path}: not a record: a JSON object with a 'form' is required")
    try:
        return Record.model_validate(data)
    except ValidationError as exc:
        raise UserError(f"{path}: not a record: {describe_validation_error(exc)}") from None


def print_record(record: Record) -> None:
    typer.echo(record.model_dump_json(indent=2))


def exit_code_for(status: Status | None) -> int:
    return {
        Status.verified: EXIT_VERIFIED,
        Status.needs_review: EXIT_NEEDS_REVIEW,
        Status.rejected: EXIT_REJECTED,
    }.get(status or Status.needs_review, EXIT_NEEDS_REVIEW)


@app.command()
def verify(
    record_file: Annotated[
        Path, typer.Argument(metavar="RECORD.json", help="a record; only 'form' is required")
    ],
) -> None:
    """Recompute every figure of a form and print the scored record as JSON.

    Exit status: 0 verified, 3 needs_review, 4 rejected, 2 when the input is not a record.
    """
    from services.scorer import score_record

    try:
        record = load_record(record_file)
    except UserError as exc:
        fail(str(exc))
    scored = score_record(record)
    print_record(scored)
    raise typer.Exit(exit_code_for(scored.status))


@app.command()
def schema() -> None:
    """Print the JSON Schema of the record."""
    typer.echo(json.dumps(record_json_schema(), ensure_ascii=False, indent=2))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("selfeval: interrupted", err=True)
        sys.exit(130)
