"""The scorer: recomputes every figure of a form and verifies it, rule by rule (pure, no I/O)."""

from services.scorer.verdict import score_record

__all__ = ["score_record"]
