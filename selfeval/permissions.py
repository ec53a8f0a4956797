"""Who may do what on NATS: one role per part, each allowed exactly its own subjects, streams and buckets.

This table is the one source for the accounts of the embedded server (`selfeval up` writes them with
generated passwords, `selfeval.credentials`) and for the cluster accounts in `deploy/`
(`selfeval nats-accounts`; a test checks the checked-in files are what it prints), so they cannot drift.

Where least privilege bites:
- the work subjects: each stage consumes its own queue and hands on only to the stages after it (any
  stage may hand a rejection to `publish`, as it does when it gives up); only the watcher submits;
- records: only the scorer publishes on `selfeval.records.>`, and the API the versions a reviewer
  settles (every one scored again before it goes out);
- state: only the parts that own submission state write the KV bucket; the API and clients read it;
  only the API writes review claims;
- scans: only the watcher (scans) and OCR (its tables and page images) write the Object Store; the
  parser reads the tables, the API the page images;
- replies: each role has its own inbox prefix (`_INBOX_<role>.>`), so none can read another's replies;
- the JetStream admin API (creating, changing, deleting or purging streams) is the admin's alone:
  `selfeval up` (or `selfeval topology` in a cluster) creates the streams and buckets, parts only bind.
  The one exception is purging the Object Store's own stream, which an object overwrite does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from selfeval.contract.messages import (
    BUCKET_EVENTS_SUBJECT,
    EXHAUSTED_STREAM,
    RECORDS_STREAM,
    RECORDS_SUBJECTS,
    REVIEWS_BUCKET,
    REVIEWS_STREAM,
    SCANS_BUCKET,
    SCANS_STREAM,
    STATE_BUCKET,
    STATE_STREAM,
    WORK_STREAM,
    Stage,
    dead_letter_subject,
    durable_name,
    exhausted_durable_name,
    exhausted_subject,
    stage_subject,
)

API = "$JS.API"


class Role(StrEnum):
    """A part's identity on NATS; each process connects as the role of the part it is."""

    admin = "admin"
    """Creates the streams and buckets (`selfeval up`, `selfeval topology`); operators and tests."""
    ocr = "ocr"
    parser = "parser"
    scorer = "scorer"
    watcher = "watcher"
    api = "api"
    client = "client"
    """`selfeval tail`, `selfeval submit --wait`: read records and submission state, nothing more."""


def user_name(role: Role) -> str:
    return f"selfeval-{role.value}"


def inbox_prefix(role: Role) -> str:
    """Where a role's replies arrive; no other role may subscribe there."""
    return f"_INBOX_{role.value}"


def service_name(role: Role) -> str:
    """The `nats.micro` service a stage part runs (`$SRV.PING.selfeval-ocr`, `selfeval-ocr.status`):
    named like the part's user."""
    return user_name(role)


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    allow_responses: bool = False
    """May answer requests (the micro service's PING/INFO/STATS/status) on the requester's inbox."""


# --- building blocks ------------------------------------------------------------------------------


def _bind() -> list[str]:
    """Look up the streams and buckets (never change them)."""
    return [f"{API}.INFO", f"{API}.STREAM.NAMES", f"{API}.STREAM.INFO.*"]


def _read_messages(stream: str) -> list[str]:
    return [f"{API}.STREAM.MSG.GET.{stream}", f"{API}.DIRECT.GET.{stream}", f"{API}.DIRECT.GET.{stream}.>"]


def _follow(stream: str) -> list[str]:
    """Ordered (ephemeral) consumers: watching the KV, reading an object's chunks, tailing records."""
    return [
        f"{API}.CONSUMER.CREATE.{stream}",
        f"{API}.CONSUMER.CREATE.{stream}.>",
        f"{API}.CONSUMER.DELETE.{stream}.>",
        f"{API}.CONSUMER.INFO.{stream}.>",
        "$JS.FC.>",
    ]


def _read_state() -> list[str]:
    return _read_messages(STATE_STREAM)


def _write_state() -> list[str]:
    return [f"$KV.{STATE_BUCKET}.>"]


def _read_scans() -> list[str]:
    return _read_messages(SCANS_STREAM) + _follow(SCANS_STREAM)


def _write_scans() -> list[str]:
    # An object written again replaces its chunks: the store purges the old ones from its own stream.
    return [f"$O.{SCANS_BUCKET}.>", f"{API}.STREAM.PURGE.{SCANS_STREAM}"]


def _take_work(stage: Stage) -> list[str]:
    """Consume a stage's queue (and the advisories of its exhausted messages), dead-letter from it."""
    subjects = []
    for stream, consumer, source in (
        (WORK_STREAM, durable_name(stage), stage_subject(stage)),
        (EXHAUSTED_STREAM, exhausted_durable_name(stage), exhausted_subject(stage)),
    ):
        subjects += [
            # Created by name with its filter in the subject: no other queue can be bound to it.
            f"{API}.CONSUMER.CREATE.{stream}.{consumer}.{source}",
            f"{API}.CONSUMER.INFO.{stream}.{consumer}",
            f"{API}.CONSUMER.MSG.NEXT.{stream}.{consumer}",
            f"$JS.ACK.{stream}.{consumer}.>",
        ]
    # An exhausted message is read back from the work stream and removed once dead-lettered.
    subjects += [f"{API}.STREAM.MSG.GET.{WORK_STREAM}", f"{API}.STREAM.MSG.DELETE.{WORK_STREAM}"]
    return [*subjects, dead_letter_subject(stage)]


def _hand_to(*stages: Stage) -> list[str]:
    return [stage_subject(stage) for stage in stages]


def _micro_service(role: Role) -> list[str]:
    name = service_name(role)
    return ["$SRV.PING", "$SRV.INFO", "$SRV.STATS", f"$SRV.*.{name}", f"$SRV.*.{name}.*", f"{name}.status"]


def _stage_part(role: Role, stages: Iterable[Stage], publish: list[str]) -> Permissions:
    takes = [subject for stage in stages for subject in _take_work(stage)]
    return Permissions(
        publish=tuple(_bind() + takes + _read_state() + _write_state() + publish),
        subscribe=(f"{inbox_prefix(role)}.>", *_micro_service(role)),
        allow_responses=True,
    )


def _permissions(role: Role) -> Permissions:
    replies = f"{inbox_prefix(role)}.>"
    if role is Role.admin:
        return Permissions(publish=(">",), subscribe=(">",), allow_responses=True)
    if role is Role.ocr:
        publish = _hand_to(Stage.parse, Stage.publish) + _read_scans() + _write_scans()
        return _stage_part(role, [Stage.ocr], publish)
    if role is Role.parser:
        return _stage_part(role, [Stage.parse], _hand_to(Stage.score, Stage.publish) + _read_scans())
    if role is Role.scorer:
        return _stage_part(role, [Stage.score, Stage.publish], [*_hand_to(Stage.publish), RECORDS_SUBJECTS])
    if role is Role.watcher:
        publish = (
            _bind()
            + _hand_to(Stage.ocr)
            + _read_messages(WORK_STREAM)  # which submissions are still queued (lost hand-offs)
            + _read_state()
            + _write_state()
            + _follow(STATE_STREAM)
            + _read_scans()
            + _write_scans()
        )
        return Permissions(publish=tuple(publish), subscribe=(replies, BUCKET_EVENTS_SUBJECT))
    if role is Role.api:
        # Reads the scans bucket for the page images it serves a reviewer; never writes it.
        claims = [*_read_messages(REVIEWS_STREAM), f"$KV.{REVIEWS_BUCKET}.>"]
        review = [RECORDS_SUBJECTS, *claims]
        publish = [*_bind(), *_read_state(), *_read_scans(), BUCKET_EVENTS_SUBJECT, *review]
        return Permissions(publish=tuple(publish), subscribe=(replies,))
    if role is Role.client:
        publish = _bind() + _read_state() + _follow(RECORDS_STREAM)
        return Permissions(publish=tuple(publish), subscribe=(replies,))
    raise ValueError(f"no permissions for {role}")


ROLES: dict[Role, Permissions] = {role: _permissions(role) for role in Role}


# --- as nats-server configuration ----------------------------------------------------------------


def _user_block(user: str, password: str, permissions: Permissions) -> list[str]:
    def allow(direction: str, subjects: tuple[str, ...]) -> list[str]:
        listed = [f"            {json.dumps(subject)}" for subject in subjects]
        return [f"        {direction}: {{", "          allow: [", *listed, "          ]", "        }"]

    lines = [
        "    {",
        f"      user: {json.dumps(user)}",
        f"      password: {password}",
        "      permissions: {",
        *allow("publish", permissions.publish),
        *allow("subscribe", permissions.subscribe),
    ]
    if permissions.allow_responses:
        lines.append("        allow_responses: true")
    return [*lines, "      }", "    }"]


def accounts_config(password: Callable[[Role], str], admins: Iterable[tuple[str, str]] = ()) -> str:
    """The `authorization` block of a nats-server config: a user per role with its permissions.

    `password(role)` gives the password as the config should read it: a quoted literal, or an
    unquoted `$VARIABLE` the server takes from its environment. `admins` adds users (name, password
    expression) with the admin's permissions.
    """
    users = [(user_name(role), password(role), ROLES[role]) for role in Role]
    users += [(name, secret, ROLES[Role.admin]) for name, secret in admins]
    lines = ["authorization {", "  users: ["]
    for user, secret, permissions in users:
        lines += _user_block(user, secret, permissions)
    return "\n".join([*lines, "  ]", "}"]) + "\n"


def password_variable(role: Role) -> str:
    """The environment variable a cluster's nats-server (and the part's container) takes a role's
    password from."""
    return f"NATS_PASSWORD_{role.value.upper()}"


def deploy_accounts_config() -> str:
    """`deploy/nats-accounts.conf`: the same users for a cluster, passwords from the servers' environment."""
    header = (
        "# NATS accounts of the selfeval parts, one user per role with its permissions.\n"
        "# Generated by `selfeval nats-accounts` from selfeval/permissions.py; do not edit by hand.\n"
        "# Each password comes from the nats-server's environment (NATS_PASSWORD_<ROLE>).\n"
    )
    return header + accounts_config(lambda role: "$" + password_variable(role))
