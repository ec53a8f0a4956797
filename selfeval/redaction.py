"""Secrets never reach a log line or an error message: known secret values, and anything shaped like
a credential (an Authorization value, a token in a query string, a password in a URL), are masked.

Processes register the secrets they hold (`conceal`): the configured ones when logging is set up, the
NATS credentials when they are loaded. Masking is the last step of every log line, whatever logged it
(selfeval, uvicorn's access and error logs, Prefect, NATS), and of reasons that end up in records.
"""

from __future__ import annotations

import re

MASK = "[redacted]"
MIN_SECRET_LENGTH = 6
"""Shorter values are not masked by value: masking `abc` everywhere would garble logs, not protect."""

_AUTHORIZATION = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{8,}")
"""An Authorization header's value, wherever it is printed (a header list, a repr, a curl line)."""
_NAMED_CREDENTIAL = re.compile(
    r"(?i)\b(\w*(?:token|api[_-]?key|password|passwd|secret)\w*)"
    r"([\"']?\s*[=:]\s*[\"']?)[^\s\"',;&)}]+"
)
"""`token='…'`, `"password": "…"`, `?api_key=…`, `AWS_SECRET_ACCESS_KEY=…`: a value given under a
credential's name."""
_QUERY_KEY = re.compile(r"(?i)([?&](?:key|auth|authorization)=)[^&\s\"'#]+")
"""Query parameters whose name says credential but is too common to mask outside a URL."""
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+@")

_known: set[str] = set()


def conceal(*values: str | None) -> None:
    """Remember secret values held by this process, so `redact` masks them wherever they appear."""
    _known.update(value for value in values if value and len(value) >= MIN_SECRET_LENGTH)


def redact(text: str) -> str:
    for secret in sorted(_known, key=len, reverse=True):  # longest first: one may contain another
        if secret in text:
            text = text.replace(secret, MASK)
    text = _AUTHORIZATION.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
    text = _NAMED_CREDENTIAL.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
    text = _QUERY_KEY.sub(lambda m: m.group(1) + MASK, text)
    return _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + "@", text)
