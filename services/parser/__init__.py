"""The parser: OCR cell tables → form records (pure, no I/O)."""

from services.parser.submission import DEFAULT_MIN_CONFIDENCE, parse_submission, split_forms

__all__ = ["DEFAULT_MIN_CONFIDENCE", "parse_submission", "split_forms"]
