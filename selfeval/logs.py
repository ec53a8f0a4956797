"""Structured logs for every selfeval process: key=value for people, JSON lines for collectors.

Nothing secret reaches a log: tracebacks are plain (never the local variables, where a request's
headers or a token would show), every line passes through `selfeval.redaction`, and log files are
readable by their owner only.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import structlog

from selfeval.redaction import conceal, redact

if TYPE_CHECKING:
    from selfeval.settings import Settings

# Libraries that talk a lot at INFO about things users did not ask about.
_NOISY = ("paddle", "paddlex", "paddleocr", "ppocr", "nats", "httpx", "urllib3", "PIL", "botocore")


def _redact_line(_logger: Any, _method: str, line: str) -> str:
    return redact(line)


def configure_logging(settings: Settings) -> None:
    """Route stdlib and structlog records to stderr in one format; stdout stays for data.

    The settings' secrets are registered for masking here, so every process that logs masks them.
    """
    conceal(*settings.secret_values())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                # The traceback as plain text, frames and lines only: never the local variables.
                structlog.processors.format_exc_info,
                renderer,
                _redact_line,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for name in _NOISY:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger


def open_private_log(path: Path) -> BinaryIO:
    """`path` opened for appending, readable and writable by its owner only (0600, also when it
    already existed with wider permissions); its folder is created owner-only too."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(descriptor, 0o600)
    return os.fdopen(descriptor, "ab")
