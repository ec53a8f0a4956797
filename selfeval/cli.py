"""The `selfeval` command line: a thin entrypoint over the same functions the services call."""

from __future__ import annotations

import ipaddress
import json
import logging
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from pydantic import ValidationError

from selfeval.cli_review import review_app
from selfeval.contract import Record, Status, record_json_schema
from selfeval.contract.messages import SubmissionState
from selfeval.contract.ocr import PageTables
from selfeval.logs import configure_logging
from selfeval.settings import get_settings
from selfeval.validation import describe_validation_error

if TYPE_CHECKING:
    from selfeval.contract.ocr import PageReader

app = typer.Typer(
    help="selfeval: scanned 财政项目支出绩效自评表 in, verified JSON records out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(review_app, name="review")


@app.callback()
def _configure(ctx: typer.Context) -> None:
    """Logs go to stderr in one format for every command (stdout carries data only)."""
    settings = get_settings()
    configure_logging(settings)
    if ctx.invoked_subcommand in ("submit", "tail"):
        # A client command's own connection chatter is not what its user asked to see.
        logging.getLogger("selfeval.bus").setLevel(logging.ERROR)


EXIT_VERIFIED = 0
EXIT_USAGE = 2
EXIT_NEEDS_REVIEW = 3
EXIT_REJECTED = 4


class UserError(Exception):
    """A mistake in what the user gave us: reported as one line, never a traceback."""


def fail(message: str) -> NoReturn:
    typer.echo(f"selfeval: error: {message}", err=True)
    raise typer.Exit(EXIT_USAGE)


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


def exit_code_for_all(records: list[Record]) -> int:
    """0 only when every form verified; otherwise the worst: rejected (4) over needs_review (3)."""
    return max((exit_code_for(record.status) for record in records), default=EXIT_REJECTED)


def load_page_tables(path: Path) -> PageTables:
    try:
        return PageTables.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc}") from None
    except ValidationError as exc:
        raise UserError(f"{path}: not OCR output: {describe_validation_error(exc)}") from None


def summary_line(record: Record) -> str:
    """One line per form: status, project, record id, failing rules (or the reason)."""
    failing = record.failing_rules()
    detail = f"  failing: {', '.join(failing)}" if failing else ""
    if record.status is Status.rejected:
        detail = f"  {record.reason}"
    project = record.form.project_name or "-"
    pages = ",".join(str(p) for p in record.submission.pages) or "-"
    return f"{record.status}  {project}  {record.record_id}  pages {pages}{detail}"


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


def ocr_engine() -> tuple[PageReader, tuple[type[Exception], ...]]:
    """The OCR engine for this process, or a one-line error (a missing model says how to install it)."""
    from services.ocr import InputRejected, ModelMissing, OcrEngine, OcrSettings

    try:
        return OcrEngine(OcrSettings.from_app_settings(get_settings())), (InputRejected,)
    except ModelMissing as exc:
        fail(str(exc))


@app.command()
def ocr(
    scan: Annotated[Path, typer.Argument(metavar="FILE", help="a scan: PDF, PNG, JPEG or TIFF")],
    html: Annotated[bool, typer.Option("--html", help="print an HTML page of the tables instead")] = False,
) -> None:
    """Read a scan's tables and print them as JSON (pages → tables → cells), or as HTML."""
    from services.ocr import tables_to_html

    try:
        data = scan.read_bytes()
    except OSError as exc:
        fail(f"{scan}: {exc.strerror or exc}")
    engine, rejections = ocr_engine()
    try:
        tables = engine.read(data, str(scan))
    except rejections as exc:
        fail(f"{scan}: {exc}")
    typer.echo(tables_to_html(tables) if html else tables.model_dump_json(indent=2))


@app.command()
def process(
    files: Annotated[list[Path], typer.Argument(metavar="FILE…", help="scans: PDF, PNG, JPEG or TIFF")],
    out: Annotated[Path, typer.Option(help="folder for the records, one <record_id>.json per form")] = Path(
        "records"
    ),
) -> None:
    """The whole chain in this process (OCR → parse → score), one record per form into --out.

    Prints one line per form (status, project, record id, pages, failing rules). Input that cannot
    be read gives a rejected record with the reason. Exit status as for `selfeval parse`.
    """
    from rich.progress import Progress

    from selfeval.in_process import process_bytes

    settings = get_settings()
    engine, rejections = ocr_engine()
    out.mkdir(parents=True, exist_ok=True)
    records: list[Record] = []
    with Progress(transient=True) as progress:
        task = progress.add_task("reading scans", total=len(files))
        for path in files:
            progress.update(task, description=f"reading {path.name}")
            try:
                data = path.read_bytes()
            except OSError as exc:
                progress.console.print(f"selfeval: error: {path}: {exc.strerror or exc}", style="red")
                progress.advance(task)
                continue
            found = process_bytes(engine, data, str(path), settings.min_confidence, rejections)
            for record in found:
                (out / f"{record.record_id}.json").write_text(record.model_dump_json(indent=2) + "\n")
                progress.console.print(
                    f"{path.name}: {summary_line(record)}", highlight=False, markup=False, soft_wrap=True
                )
            records += found
            progress.advance(task)
    raise typer.Exit(exit_code_for_all(records))


@app.command()
def parse(
    ocr_file: Annotated[Path, typer.Argument(metavar="OCR.json", help="output of `selfeval ocr`")],
) -> None:
    """Turn OCR cell tables into scored records (a JSON list, one record per form).

    Exit status: 0 when every form verified, 3 when any needs review, 4 when any was rejected,
    2 when the input is not OCR output.
    """
    from selfeval.in_process import records_from_tables

    try:
        tables = load_page_tables(ocr_file)
    except UserError as exc:
        fail(str(exc))
    records = records_from_tables(tables, get_settings().min_confidence)
    typer.echo("[" + ",\n".join(record.model_dump_json(indent=2) for record in records) + "]")
    for record in records:
        typer.echo(summary_line(record), err=True)
    raise typer.Exit(exit_code_for_all(records))


@app.command()
def up() -> None:
    """Start everything on this machine: NATS, Prefect, the three services, the watcher and the API.

    An embedded NATS server (JetStream) and a local Prefect server are started unless NATS_URL or
    PREFECT_API_URL name existing ones. Data lives under SELFEVAL_HOME (default ./var). Ctrl-C stops.
    """
    import signal as signals

    from selfeval.up import StartupError
    from selfeval.up import up as bring_up

    settings = get_settings()
    stop = {"requested": False}

    def request_stop(*_args: object) -> None:
        stop["requested"] = True

    signals.signal(signals.SIGINT, request_stop)
    signals.signal(signals.SIGTERM, request_stop)
    try:
        code = bring_up(settings, lambda line: typer.echo(line), lambda: stop["requested"])
    except StartupError as exc:
        fail(str(exc))
    raise typer.Exit(code)


@app.command()
def serve(
    part: Annotated[str, typer.Argument(metavar="PART", help="ocr, parser, scorer or watcher")],
) -> None:
    """Run one part of the system in this process, as `selfeval up` and the deploy/ manifests do.

    Start any number of ocr, parser and scorer processes on any machine that reaches NATS (NATS_URL);
    JetStream gives each submission to exactly one of them.
    """
    from selfeval.parts import PARTS

    if part not in PARTS:
        fail(f"unknown part {part!r}: choose one of {', '.join(PARTS)}")
    raise typer.Exit(PARTS[part].main())


@app.command()
def submit(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE…", help="scans to drop into the watched bucket")
    ],
    wait: Annotated[bool, typer.Option(help="wait for the records and print them")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="with --wait: print whole records as JSON")] = False,
    timeout: Annotated[float, typer.Option(help="with --wait: give up after this many seconds")] = 1800,
) -> None:
    """Drop scans into the watched bucket (the local inbox, or the S3 bucket when configured).

    With --wait, follow them through the running system (`selfeval up`) and print one line per form
    (or the records as JSON); the exit status is then as for `selfeval parse`.
    """
    import asyncio

    from selfeval.bootstrap import make_inbox
    from selfeval.contract.messages import submission_id_for
    from selfeval.inbox import inbox_key
    from selfeval.records_client import wait_for_records

    settings = get_settings()
    inbox = make_inbox(settings)
    problems = 0
    submitted: list[str] = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            typer.echo(f"selfeval: error: {path}: {exc.strerror or exc}", err=True)
            problems += 1
            continue
        digest = submission_id_for(data)
        key = inbox_key(digest, path.name)
        inbox.put(key, data)
        submitted.append(digest)
        typer.echo(f"submitted {path} as {key} (submission {digest[:12]})", err=as_json)
    if problems and not submitted:
        raise typer.Exit(EXIT_USAGE)
    if not wait:
        raise typer.Exit(EXIT_USAGE if problems else 0)

    def show(state: SubmissionState, records: list[Record]) -> None:
        for record in records:
            typer.echo(record.model_dump_json(indent=2) if as_json else summary_line(record))
        if not records:
            typer.echo(f"{state.source}: finished without records: {state.errors or state.stages}", err=True)

    try:
        records = asyncio.run(wait_for_records(settings, submitted, timeout, show))
    except (ConnectionError, TimeoutError) as exc:
        fail(f"waiting for records: {exc or 'timed out'}")
    raise typer.Exit(EXIT_USAGE if problems else exit_code_for_all(records))


@app.command()
def tail(
    status: Annotated[str, typer.Option(help="which records: verified, review, rejected or all")] = "all",
    as_json: Annotated[bool, typer.Option("--json", help="print whole records as JSON lines")] = False,
    count: Annotated[int, typer.Option(help="stop after this many records (0: never)")] = 0,
    idle: Annotated[float, typer.Option(help="stop after this many seconds without a record (0: never)")] = 0,
) -> None:
    """Print records as they are published (from the start of the durable records stream)."""
    import asyncio

    from selfeval.contract.messages import RECORD_CHANNELS
    from selfeval.records_client import tail_records

    if status not in (*RECORD_CHANNELS.values(), "all"):
        fail(f"--status must be verified, review, rejected or all, not {status!r}")
    settings = get_settings()

    def show(record: Record) -> None:
        typer.echo(record.model_dump_json() if as_json else summary_line(record))

    try:
        seen = asyncio.run(tail_records(settings, status, show, count, idle))
    except (ConnectionError, TimeoutError) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        seen = 0
    raise typer.Exit(0 if seen or not count else EXIT_NEEDS_REVIEW)


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="address to bind (default SELFEVAL_API_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default SELFEVAL_API_PORT)")] = None,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    from selfeval.api import ApiContext, create_app
    from selfeval.bootstrap import connect_nats, make_inbox, make_outbox, prefect_api_url
    from selfeval.permissions import Role

    settings = get_settings()
    host = host or settings.api_host
    token = settings.api_token.get_secret_value() if settings.api_token else None
    if token is None and not _is_loopback(host):
        fail(f"binding the API to {host} needs SELFEVAL_API_TOKEN (only loopback may go without a token)")
    from flows.review import announce_review
    from selfeval.review.reviewers import ReviewersFile, ReviewersFileError, load_reviewers

    reviewers_path = settings.reviewers_path
    if reviewers_path.exists():
        try:
            load_reviewers(reviewers_path)  # a malformed file is said at once, not at the first review
        except ReviewersFileError as exc:
            fail(str(exc))
    context = ApiContext(
        inbox=make_inbox(settings),
        outbox=make_outbox(settings),
        prefect_api_url=prefect_api_url(settings),
        token=token,
        max_upload_bytes=settings.max_upload_bytes,
        connect=lambda: connect_nats(settings, "selfeval-api", Role.api),
        reviewers=ReviewersFile(reviewers_path),
        claim_seconds=settings.review_claim_seconds,
        announce=announce_review,
        min_confidence=settings.min_confidence,
    )
    uvicorn.run(create_app(context), host=host, port=port or settings.api_port, log_config=None)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
def topology() -> None:
    """Create (or bring up to date) the NATS streams and buckets, with admin credentials.

    `selfeval up` does this itself; on a cluster run it once before the parts (deploy/ does), since
    the parts' own credentials may not create or change streams.
    """
    import asyncio

    from selfeval.bootstrap import nats_auth, nats_url
    from selfeval.bus.connection import BusAuthError
    from selfeval.bus.topology import prepare_topology
    from selfeval.permissions import Role

    settings = get_settings()
    auth = nats_auth(settings, Role.admin)
    try:
        asyncio.run(prepare_topology(nats_url(settings), settings.nats_replicas, **auth))
    except (BusAuthError, ConnectionError, TimeoutError) as exc:
        fail(str(exc) or "NATS did not answer in time")
    typer.echo("streams and buckets ready", err=True)


@app.command("nats-accounts")
def nats_accounts() -> None:
    """Print the parts' NATS accounts for a cluster's nats-server (deploy/nats-accounts.conf).

    One user per role with its permissions; each password comes from the server's environment.
    """
    from selfeval.permissions import deploy_accounts_config

    typer.echo(deploy_accounts_config(), nl=False)


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
