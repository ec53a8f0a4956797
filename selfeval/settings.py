"""All configuration in one typed object, read from the environment.

Every setting is documented in the README's configuration table. Names are the field names
upper-cased with the `SELFEVAL_` prefix, except the ones other tools already know by their own
names (`NATS_URL`, `PREFECT_API_URL`, the `AWS_*` credentials read by boto3).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, AnyHttpUrl, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from selfeval.contract import defaults

AWS_SECRETS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
"""Read by boto3 itself, not through these settings; still secrets every log must mask."""


LOOPBACK_FOR_WILDCARD = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}
"""A wildcard bind address, and the loopback address a browser on the same machine uses for it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SELFEVAL_", extra="ignore")

    home: Path = Field(Path("var"), description="where the embedded defaults keep their data")
    log_format: str = Field("console", description="'console' for people, 'json' for log collectors")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")

    # OCR
    dpi: int = Field(defaults.DPI, ge=72, le=600, description="resolution PDFs are rasterised at")
    max_pages: int = Field(defaults.MAX_PAGES, ge=1, description="a submission with more pages is rejected")
    max_pixels: int = Field(
        defaults.MAX_PIXELS, ge=1, description="a page image with more pixels is rejected"
    )
    ocr_threads: int | None = Field(
        None, ge=1, description="CPU threads per OCR process (default: the cores shared among them)"
    )
    ocr_processes: int = Field(
        default_factory=lambda: min(2, cpu_count()),
        ge=1,
        description="OCR processes `selfeval up` starts (default: 2, or 1 on a one-core machine)",
    )
    model_dir: Path | None = Field(
        None, description="where prepared OCR models are kept (default HOME/models)"
    )
    ocr_reader: Literal["small", "tiny"] = Field(
        "small", description="line reader: PP-OCRv6 'small' (most exact) or 'tiny' (about 3× faster)"
    )

    # Parser
    min_confidence: float = Field(
        defaults.MIN_CONFIDENCE,
        ge=0,
        le=1,
        description="a required field read with less OCR confidence needs review",
    )

    # NATS and Prefect: None means "start the embedded one" for `selfeval up`.
    nats_url: str | None = Field(None, validation_alias=AliasChoices("NATS_URL", "SELFEVAL_NATS_URL"))
    nats_port: int = Field(4222, ge=0, le=65535, description="port of the embedded NATS server (0: any)")
    prefect_port: int = Field(4200, ge=0, le=65535, description="port of the local Prefect server (0: any)")
    nats_user: str | None = Field(None, description="NATS user (with nats_password)")
    nats_password: SecretStr | None = Field(None, description="NATS password")
    nats_creds: Path | None = Field(None, description="NATS credentials file (nkeys/JWT)")
    nats_tls_ca: Path | None = Field(None, description="CA file to verify the NATS server's TLS certificate")
    nats_replicas: int = Field(1, ge=1, le=5, description="JetStream replicas of the streams and buckets")
    ack_wait: float = Field(30.0, gt=0, description="seconds without a heartbeat before work is redelivered")
    max_deliver: int = Field(5, ge=1, description="attempts per stage before a submission is rejected")
    retry_backoff: list[float] = Field(
        default_factory=lambda: [2.0, 10.0, 30.0, 60.0], description="seconds before attempt 2, 3, … (JSON)"
    )
    worker_concurrency: int = Field(1, ge=1, description="messages a stage works on at once per process")
    prefect_api_url: str | None = Field(
        None, validation_alias=AliasChoices("PREFECT_API_URL", "SELFEVAL_PREFECT_API_URL")
    )

    # The watched bucket and the outbox: local folders under HOME unless an S3 bucket is named.
    s3_bucket: str | None = Field(None, description="watch this S3 bucket instead of HOME/inbox")
    s3_prefix: str = Field("inbox/", description="key prefix of submissions in the S3 bucket")
    s3_outbox_prefix: str = Field("outbox/", description="key prefix records are written under in S3")
    s3_endpoint_url: str | None = Field(None, description="endpoint of an S3-compatible store")
    poll_seconds: float = Field(2.0, gt=0, description="how often the watcher lists the bucket")
    settle_seconds: float = Field(1.0, ge=0, description="an object must be unchanged this long to be read")
    incomplete_settle_seconds: float = Field(
        60.0,
        ge=0,
        description="a file of the local inbox that is cut short by its own structure, or of a type that "
        "cannot tell, must be unchanged this long to be read (a copy that pauses is not read half-way)",
    )
    stage_timeout: float = Field(3600.0, gt=0, description="a flow gives up on a stage after this long")

    # HTTP API
    api_host: str = Field("127.0.0.1", description="address the API binds to")
    api_port: int = Field(8000, ge=0, le=65535)
    api_token: SecretStr | None = Field(
        None, description="bearer token the API requires; mandatory when bound beyond loopback"
    )
    max_upload_bytes: int = Field(50 * 1024 * 1024, ge=1, description="larger uploads are refused (413)")
    public_url: AnyHttpUrl | None = Field(
        None,
        description="the API's address as people open it, for the review links in Prefect "
        "(default: http://API_HOST:API_PORT)",
    )

    # Review
    reviewers: Path | None = Field(
        None, description="reviewers file, one 'name:sha256-hex-of-token' a line (default HOME/reviewers)"
    )
    review_claim_seconds: float = Field(900.0, gt=0, description="a reviewer's claim on a record expires")
    review_token: SecretStr | None = Field(None, description="the reviewer token `selfeval review` sends")
    api_url: str | None = Field(
        None, description="the API `selfeval review` talks to (default: the one `selfeval up` started)"
    )

    def secret_values(self) -> list[str]:
        """Every configured secret, for masking in logs: the API and review tokens, the NATS password,
        and the S3 secret key boto3 reads from the environment."""
        configured = (self.api_token, self.review_token, self.nats_password)
        secrets = [secret.get_secret_value() for secret in configured if secret]
        return secrets + [os.environ[name] for name in AWS_SECRETS if os.environ.get(name)]

    def ocr_threads_per_process(self, processes: int = 1) -> int:
        """SELFEVAL_OCR_THREADS, or the cores shared among `processes` OCR processes: two processes of
        one thread read more pages per second than one of two (no thread ever waits on another)."""
        return self.ocr_threads or max(1, cpu_count() // processes)

    def public_api_url(self, port: int | None = None) -> str:
        """Where people reach the API (no trailing slash): SELFEVAL_PUBLIC_URL, else the address the API
        listens on (`port` when it was picked at start-up, as `selfeval up` does for port 0). A wildcard
        bind address is no place to browse to: it becomes loopback."""
        if self.public_url is not None:
            return str(self.public_url).rstrip("/")
        host = LOOPBACK_FOR_WILDCARD.get(self.api_host, self.api_host)
        if ":" in host:  # an IPv6 address goes in brackets in a URL
            host = f"[{host}]"
        return f"http://{host}:{port or self.api_port}"

    @property
    def models_path(self) -> Path:
        return self.model_dir or self.home / "models"

    @property
    def inbox_path(self) -> Path:
        return self.home / "inbox"

    @property
    def outbox_path(self) -> Path:
        return self.home / "outbox"

    @property
    def reviewers_path(self) -> Path:
        return self.reviewers or self.home / "reviewers"


@lru_cache
def cpu_count() -> int:
    """Cores this process may run on (a container's CPU set, not the host's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def get_settings() -> Settings:
    return Settings()
