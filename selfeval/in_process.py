"""The in-process pipeline: scan bytes → OCR → parse → score → records, no servers.

The CLI's `process` and `parse` commands and the benchmarks call this; the NATS services run the same
three steps as separate processes.
"""

from __future__ import annotations

import time

from selfeval import __version__
from selfeval.contract import Record
from selfeval.contract.messages import submission_id_for
from selfeval.contract.ocr import PageReader, PageTables
from selfeval.intake import rejected_record
from services.parser import parse_submission
from services.scorer import score_record


def records_from_tables(tables: PageTables, min_confidence: float) -> list[Record]:
    """Parse and score a read submission."""
    started = time.perf_counter()
    records = parse_submission(tables, min_confidence)
    parsed = time.perf_counter()
    scored = [score_record(record) for record in records]
    done = time.perf_counter()
    for record in scored:
        record.provenance.pipeline_version = __version__
        record.provenance.timings.update(
            {**tables.timings, "parse": round(parsed - started, 4), "score": round(done - parsed, 4)}
        )
    return scored


def process_bytes(
    reader: PageReader,
    data: bytes,
    source: str,
    min_confidence: float,
    rejections: tuple[type[Exception], ...],
) -> list[Record]:
    """OCR → parse → score for one submission; input the reader refuses becomes a rejected record."""
    try:
        tables = reader.read(data, source)
    except rejections as exc:
        return [rejected_record(submission_id_for(data), source, str(exc))]
    return records_from_tables(tables, min_confidence)
