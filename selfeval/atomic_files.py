"""Writing a file so that no reader ever sees half of it: a private temp file beside it, renamed into
place. The temp name is unique per writer (concurrent writers of one target never collide) and hidden
(`.name.xxxx.tmp`), so the inbox listing and the outbox readers skip it. Files are owner-only (0600).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


def write_atomically(target: Path, content: bytes | Path) -> None:
    """`content` (bytes, or the file at that path) becomes `target` at once, or not at all."""
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    temp = Path(temp_name)
    try:
        with os.fdopen(descriptor, "wb") as out:
            if isinstance(content, Path):
                with content.open("rb") as source:
                    shutil.copyfileobj(source, out, 1024 * 1024)
            else:
                out.write(content)
            out.flush()
            os.fsync(out.fileno())
        temp.replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
