"""What a selfeval process logs never carries a secret: tracebacks without local variables, credentials
masked by value and by shape, log files readable by their owner only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from selfeval.logs import open_private_log
from selfeval.redaction import MASK, redact

pytestmark = pytest.mark.unit

TOKEN = "api-token-in-a-local-9f3e"
NATS_PASSWORD = "nats-password-configured-77d1"
AWS_SECRET = "aws-secret-in-the-env-c0ffee"

# A process set up like every selfeval process, failing with secrets in its local variables, the way a
# request handler fails with the request's headers in its frames.
FAILING_PROCESS = textwrap.dedent(
    """
    import logging
    from selfeval.logs import configure_logging, get_logger
    from selfeval.settings import get_settings

    configure_logging(get_settings())

    def handle(headers, token):
        context = {"token": token, "password": "inline-password-5566"}
        raise RuntimeError("upstream refused the call")

    try:
        handle([(b"authorization", b"Bearer someone-elses-token-1234")], "%s")
    except RuntimeError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
        get_logger("selfeval.api").exception("request failed")
    query = "/records/x?token=typo-of-the-token"
    access = logging.getLogger("uvicorn.access")
    access.info('%%s - "%%s %%s HTTP/%%s" %%d', "127.0.0.1:1", "GET", query, "1.1", 400)
    get_logger("selfeval.bus").info("nats connected", url="nats://ocr:%s@127.0.0.1:4222")
    """
)


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_a_failing_process_logs_its_traceback_but_no_secret(tmp_path: Path, log_format: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SELFEVAL_", "NATS_", "AWS_"))}
    env.update(
        {
            "SELFEVAL_HOME": str(tmp_path),
            "SELFEVAL_LOG_FORMAT": log_format,
            "SELFEVAL_API_TOKEN": TOKEN,
            "SELFEVAL_NATS_PASSWORD": NATS_PASSWORD,
            "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
            "TERM": "xterm-256color",  # rich would render locals for a terminal; it must not anyway
        }
    )
    script = tmp_path / "failing.py"  # a file, so the traceback can quote its lines
    script.write_text(FAILING_PROCESS % (TOKEN, NATS_PASSWORD))
    result = subprocess.run(
        [sys.executable, str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    log = result.stderr
    # The failure itself is all there: where, and what.
    assert log.count("RuntimeError: upstream refused the call") == 2, log
    assert 'raise RuntimeError("upstream refused the call")' in log.replace('\\"', '"')
    for secret in (TOKEN, NATS_PASSWORD, AWS_SECRET, "someone-elses-token-1234", "inline-password-5566"):
        assert secret not in log, f"{secret} leaked:\n{log}"
    assert "typo-of-the-token" not in log and "?token=" + MASK in log
    assert f"nats://ocr:{MASK}@127.0.0.1:4222" in log
    if log_format == "json":
        lines = [json.loads(line) for line in log.splitlines()]
        assert [line["event"] for line in lines][:2] == ["Exception in ASGI application", "request failed"]
        assert all("exc_info" not in line for line in lines)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("value = b'Bearer abcdefgh12345'", f"value = b'Bearer {MASK}'"),
        ("ApiContext(inbox=x, token='t0ken-value')", f"ApiContext(inbox=x, token='{MASK}')"),
        ('{"password": "hunter2hunter2"}', f'{{"password": "{MASK}"}}'),
        ("GET /x?api_key=zzz&page=2", f"GET /x?api_key={MASK}&page=2"),
        ("GET /x?key=zzz", f"GET /x?key={MASK}"),
        ("AWS_SECRET_ACCESS_KEY=abcd", f"AWS_SECRET_ACCESS_KEY={MASK}"),
        # What is not a credential stays readable.
        ("submitted key=inbox/form.pdf size=3", "submitted key=inbox/form.pdf size=3"),
        ("the bearer token the API requires", "the bearer token the API requires"),
    ],
)
def test_credentials_are_masked_by_their_shape(text: str, masked: str) -> None:
    assert redact(text) == masked


def test_a_log_file_is_its_owners_only_even_when_it_existed_before(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "api.log"
    with open_private_log(path) as log:
        log.write(b"first\n")
    path.chmod(0o644)  # as an older version left it
    with open_private_log(path) as log:
        log.write(b"second\n")
    assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "logs").stat().st_mode & 0o777 == 0o700
    assert path.read_bytes() == b"first\nsecond\n"
