"""The parts of the system, one module each, holding that process's composition root (its `main`).

`PARTS` is the one list of them: `selfeval serve PART` runs one in this process, and `selfeval up`
starts each as `python -m selfeval serve PART`, the same command `deploy/` runs. A part's module is
imported only when that part runs, so the parser never loads Paddle and no stage loads Prefect.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Part:
    name: str
    module: str
    """Where its `main() -> int` lives (exit status: 0 stopped, 2 cannot run as configured)."""
    bookkeeping: bool = False
    """It only records and reports: `selfeval up` runs it at a lower CPU priority than the stages."""

    def main(self) -> int:
        return int(importlib.import_module(self.module).main())


PARTS: dict[str, Part] = {
    part.name: part
    for part in (
        Part("ocr", "selfeval.parts.ocr"),
        Part("parser", "selfeval.parts.parser"),
        Part("scorer", "selfeval.parts.scorer"),
        Part("watcher", "selfeval.parts.watcher", bookkeeping=True),
    )
}
