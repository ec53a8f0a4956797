"""An uploaded scan received as it streams in: bounded, hashed and spooled to a private temp file.

The multipart body is parsed while it arrives (python-multipart's streaming parser), so nothing is
read before the caller has checked the credentials, and an upload over the limit is refused as soon as
the byte that crosses it arrives, whether the client declared a length or sent it chunked. The file
goes to a temp file of its own (unique per request, owner-only) that is removed when the request ends,
on every path: accepted, refused, or the client gone mid-way.

An upload is exactly one part named `file`; anything else is refused with the reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

FILE_FIELD = "file"
MULTIPART_SLACK = 64 * 1024
"""Room for the multipart framing (boundaries, part headers) around a file of the largest accepted size."""
HEAD_BYTES = 16
"""How much of the start of a file is kept for sniffing its type."""


class UploadRefusedError(Exception):
    """The upload cannot be accepted; `status` and `detail` are what the client is told."""

    def __init__(self, status: int, detail: str, reason: str) -> None:
        super().__init__(detail)
        self.status, self.detail, self.reason = status, detail, reason


@dataclass
class SpooledUpload:
    """The `file` part of an upload, on disk while the request lasts."""

    path: Path
    filename: str | None = None
    size: int = 0
    head: bytes = b""
    sha256: str = ""


def too_large(max_bytes: int) -> UploadRefusedError:
    return UploadRefusedError(413, f"upload larger than {max_bytes} bytes", "too_large")


def declared_too_large(content_length: str | None, max_bytes: int) -> bool:
    """A body that says in advance it is too big, refused before a byte of it is read."""
    declared = int(content_length) if content_length and content_length.isdigit() else 0
    return declared > max_bytes + MULTIPART_SLACK


async def read_bounded(chunks: AsyncIterable[bytes], max_bytes: int) -> bytes:
    """A small body (a JSON event), refused with 413 as soon as it grows past `max_bytes`."""
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > max_bytes:
            raise too_large(max_bytes)
    return bytes(body)


class _FilePartReader:
    """python-multipart callbacks that accept one `file` part and write it to the spool file."""

    def __init__(self, spool: IO[bytes], upload: SpooledUpload, max_bytes: int) -> None:
        self.spool, self.upload, self.max_bytes = spool, upload, max_bytes
        # The submission id (`submission_id_for`) of the upload, computed as its bytes stream in, since
        # the whole file is never held in memory.
        self.digest = hashlib.sha256()
        self.parts = 0
        self.ended = False
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self.parts += 1
        self._disposition = b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name != FILE_FIELD:
            detail = f"unexpected part {name!r}: an upload is one part named {FILE_FIELD!r}"
            raise UploadRefusedError(400, detail, "unexpected_part")
        if self.parts > 1:
            raise UploadRefusedError(
                400,
                f"more than one {FILE_FIELD!r} part: upload each scan in a request of its own",
                "several_files",
            )
        filename = options.get(b"filename")
        self.upload.filename = filename.decode("utf-8", "replace") if filename is not None else None

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        piece = data[start:end]
        upload = self.upload
        if upload.size + len(piece) > self.max_bytes:
            raise too_large(self.max_bytes)
        if len(upload.head) < HEAD_BYTES:
            upload.head += piece[: HEAD_BYTES - len(upload.head)]
        upload.size += len(piece)
        self.digest.update(piece)
        self.spool.write(piece)

    def on_end(self) -> None:
        self.ended = True


def multipart_boundary(content_type: str | None) -> bytes:
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UploadRefusedError(
            415, f"send the scan as multipart/form-data with one part named {FILE_FIELD!r}", "not_multipart"
        )
    return boundary


@contextlib.asynccontextmanager
async def spooled_upload(
    chunks: AsyncIterable[bytes], content_type: str | None, max_bytes: int, spool_dir: Path | None = None
) -> AsyncIterator[SpooledUpload]:
    """Receive the upload's `file` part into a temp file (in `spool_dir`, default the system's); it is
    removed when the block ends. Raises UploadRefusedError with the status and reason for the client."""
    boundary = multipart_boundary(content_type)
    descriptor, name = tempfile.mkstemp(prefix="selfeval-upload-", suffix=".part", dir=spool_dir)
    path = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as spool:
            upload = SpooledUpload(path=path)
            reader = _FilePartReader(spool, upload, max_bytes)
            parser = MultipartParser(boundary, reader.callbacks())  # type: ignore[arg-type]
            received = 0
            try:
                async for chunk in chunks:
                    received += len(chunk)
                    if received > max_bytes + MULTIPART_SLACK:
                        raise too_large(max_bytes)
                    parser.write(chunk)
                parser.finalize()
            except MultipartParseError as exc:
                raise UploadRefusedError(400, f"malformed multipart body: {exc}", "malformed") from None
        if not reader.ended:
            raise UploadRefusedError(400, "the multipart body ended before its closing boundary", "malformed")
        if reader.parts == 0:
            raise UploadRefusedError(400, f"no part named {FILE_FIELD!r}", "no_file")
        upload.sha256 = reader.digest.hexdigest()
        yield upload
    finally:
        path.unlink(missing_ok=True)
