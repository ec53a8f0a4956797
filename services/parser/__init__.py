"""The parser: OCR cell tables → form records (pure, no I/O)."""

from services.parser.submission import parse_submission

__all__ = ["parse_submission"]
