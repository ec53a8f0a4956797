"""Fault tests only: the OCR part SIGKILLs itself on one submission, like a decoder crashing on it.

No real input is known to crash the engine (services/ocr/inputs.py refuses bombs), so the fault tests
plant one: with this folder on PYTHONPATH and SELFEVAL_TEST_POISON_SHA256 set, Python imports this
module at start-up in every process `selfeval up` starts, and it wraps the OCR part's handler.
"""

from __future__ import annotations

import os
import signal

POISON_ENV = "SELFEVAL_TEST_POISON_SHA256"


def _plant(poison: str) -> None:
    from selfeval.contract.messages import OcrRequest, Stage
    from selfeval.parts import ocr

    make_handlers = ocr.make_handlers

    def poisoned_handlers(*args, **kwargs):  # type: ignore[no-untyped-def]
        handlers = dict(make_handlers(*args, **kwargs))
        read = handlers[Stage.ocr]

        async def ocr_or_die(request: OcrRequest):  # type: ignore[no-untyped-def]
            if request.submission_id == poison:
                ocr.log.error("test poison: killing the OCR process", submission_id=poison)
                os.kill(os.getpid(), signal.SIGKILL)
            return await read(request)

        handlers[Stage.ocr] = ocr_or_die
        return handlers

    ocr.make_handlers = poisoned_handlers


if poison := os.environ.get(POISON_ENV):
    _plant(poison)
