"""`selfeval review …`: settle records that need review from a terminal.

Every decision goes through the HTTP API (`SELFEVAL_API_URL`, or the one `selfeval up` started), so
the command line follows exactly the API's rules: the reviewer is the one `SELFEVAL_REVIEW_TOKEN`
belongs to, a stale version or another's claim is refused, values are validated by the contract.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, NoReturn

import httpx
import typer

from selfeval.bootstrap import read_endpoints
from selfeval.settings import Settings, get_settings

review_app = typer.Typer(
    help="Settle records that need review: list, show, claim, correct, confirm (through the API).",
    no_args_is_help=True,
)
EXIT_REFUSED = 2


def _refused(message: str) -> NoReturn:
    typer.echo(f"selfeval: error: {message}", err=True)
    raise typer.Exit(EXIT_REFUSED)


def api_url(settings: Settings) -> str:
    return (
        settings.api_url
        or read_endpoints(settings.home).get("api_url")
        or f"http://{settings.api_host}:{settings.api_port}"
    ).rstrip("/")


def _call(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    settings = get_settings()
    if settings.review_token is None:
        _refused("set SELFEVAL_REVIEW_TOKEN to your reviewer token (`selfeval review add-reviewer NAME`)")
    headers = {"Authorization": f"Bearer {settings.review_token.get_secret_value()}"}
    url = api_url(settings) + path
    try:
        response = httpx.request(method, url, json=body, headers=headers, timeout=60)
    except httpx.HTTPError as exc:
        _refused(f"the API at {api_url(settings)} did not answer: {exc}")
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text
        _refused(f"{response.status_code}: {detail if isinstance(detail, str) else json.dumps(detail)}")
    return response.json() if response.content else None


def _current_version(record_id: str, version: int | None) -> int:
    return (
        version
        if version is not None
        else int(_call("GET", f"/review/records/{record_id}")["record_version"])
    )


def _report(record: dict[str, Any]) -> None:
    reason = f"  {record['reason']}" if record.get("reason") else ""
    typer.echo(f"{record['status']}  {record['record_id']}  version {record['record_version']}{reason}")


RecordId = Annotated[str, typer.Argument(metavar="RECORD_ID", help="the record's 24-hex-digit id")]
Note = Annotated[str | None, typer.Option(help="why, for the record's history")]
Version = Annotated[
    int | None,
    typer.Option(help="the record_version you looked at (refused if it changed since); default: current"),
]


@review_app.command("list")
def list_records() -> None:
    """Records that need review, oldest first: id, version, project, failing rules, who holds it."""
    for item in _call("GET", "/review/queue"):
        claimed = f"  claimed by {item['claimed_by']}" if item["claimed_by"] else ""
        failing = ", ".join(item["failing_rules"])
        typer.echo(
            f"{item['record_id']}  v{item['record_version']}  {item['project_name'] or '-'}  "
            f"fields {len(item['fields_needing_review'])}  failing: {failing}{claimed}"
        )


@review_app.command()
def show(record_id: RecordId) -> None:
    """Print the record's current version as JSON (its suggestions are under provenance)."""
    typer.echo(json.dumps(_call("GET", f"/review/records/{record_id}"), ensure_ascii=False, indent=2))


@review_app.command()
def claim(record_id: RecordId) -> None:
    """Take the record so that nobody else settles it meanwhile (the claim expires)."""
    taken = _call("POST", f"/records/{record_id}/claim")
    typer.echo(f"claimed by {taken['reviewer']} until {taken['until']}")


@review_app.command()
def release(record_id: RecordId) -> None:
    """Give the record back."""
    _call("POST", f"/records/{record_id}/release")
    typer.echo("released")


@review_app.command()
def correct(
    record_id: RecordId,
    changes: Annotated[
        list[str],
        typer.Argument(metavar="PATH=VALUE…", help="e.g. form.total_score=98.15 (empty VALUE: null)"),
    ],
    note: Note = None,
    version: Version = None,
) -> None:
    """Replace misread values; the record is scored again and printed with its new status."""
    corrections = []
    for change in changes:
        path, separator, value = change.partition("=")
        if not separator or not path:
            _refused(f"{change!r} is not PATH=VALUE")
        corrections.append({"path": path.strip(), "value": value or None})
    body = {"version": _current_version(record_id, version), "corrections": corrections, "note": note}
    _report(_call("POST", f"/records/{record_id}/corrections", body))


@review_app.command()
def confirm(record_id: RecordId, note: Note = None, version: Version = None) -> None:
    """The values match the scan and the form's own arithmetic is wrong: the record becomes confirmed."""
    body = {"version": _current_version(record_id, version), "note": note}
    _report(_call("POST", f"/records/{record_id}/confirm", body))


@review_app.command("add-reviewer")
def add_reviewer_command(
    name: Annotated[str, typer.Argument(help="the reviewer's name, as it will appear in the history")],
) -> None:
    """Add a reviewer to the reviewers file and print their new token, once.

    The file is SELFEVAL_REVIEWERS (default HOME/reviewers); only the token's SHA-256 is stored.
    """
    from selfeval.review.reviewers import ReviewersFileError, add_reviewer

    settings = get_settings()
    try:
        token = add_reviewer(settings.reviewers_path, name)
    except ReviewersFileError as exc:
        _refused(str(exc))
    typer.echo(f"reviewer {name} added to {settings.reviewers_path}; their token (shown once):", err=True)
    typer.echo(token)
