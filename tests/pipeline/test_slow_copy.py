"""Scans copied slowly into the watched folder, pausing half-way, with the real watcher on a real
nats-server and the default settings: each gives exactly one submission, of its complete bytes."""

from __future__ import annotations

import asyncio
import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from flows.watcher import BucketWatcher
from selfeval.bus.state import current_states
from selfeval.embedded import EmbeddedNats
from selfeval.inbox import LocalInbox
from selfeval.settings import Settings
from tests.bus.support import eventually, open_bus, run

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def sample(kind: str) -> bytes:
    if kind == "png":
        out = io.BytesIO()
        Image.open(SAMPLES / "form_03.jpg").save(out, format="PNG")
        return out.getvalue()
    return (
        SAMPLES / {"jpeg": "form_03.jpg", "tiff": "form_05.tiff", "pdf": "forms_01_02.pdf"}[kind]
    ).read_bytes()


async def copy_slowly(target: Path, data: bytes, pause: float, cut: float = 0.5) -> None:
    """Write the first part, stay unchanged for `pause` seconds, then the rest: a copy that stalled."""
    with target.open("wb") as out:
        out.write(data[: int(len(data) * cut)])
        out.flush()
        await asyncio.sleep(pause)
        out.write(data[int(len(data) * cut) :])


class WatcherWithoutFlowRuns(BucketWatcher):
    """The watcher as shipped, minus the Prefect flow run that follows each submission (no Prefect here)."""

    def start_follower(self, submission_id: str, source: str) -> None:
        pass


def submitted_after_copies(
    nats_server: EmbeddedNats,
    inbox: Path,
    copies: dict[str, tuple[bytes, float]],
    files: int | None = None,
    **watcher_settings: float,
) -> dict[str, str]:
    """Run the watcher while the copies happen, until it has submitted `files` (default: one per copy)
    and a little longer; the submissions it made, {submission id: source}."""
    files = len(copies) if files is None else files
    defaults = Settings()
    settings = {
        "settle_seconds": defaults.settle_seconds,
        "poll_seconds": defaults.poll_seconds,
        "incomplete_seconds": defaults.incomplete_settle_seconds,
        **watcher_settings,
    }

    async def scenario() -> dict[str, str]:
        nc, js = await open_bus(nats_server.url)
        watcher = WatcherWithoutFlowRuns(LocalInbox(inbox), js, **settings)
        quit_event = asyncio.Event()
        watching = asyncio.create_task(watcher.run(nc, quit_event))
        try:
            await asyncio.gather(
                *(copy_slowly(inbox / name, data, pause) for name, (data, pause) in copies.items())
            )

            async def all_in() -> dict[str, str] | None:
                found = {state.submission_id: state.source async for state in current_states(js)}
                return found if len(found) >= files else None

            await eventually(all_in, timeout=30 + settings["incomplete_seconds"], every=0.5)
            await asyncio.sleep(2 * settings["poll_seconds"])  # a second submission would show now
            return {state.submission_id: state.source async for state in current_states(js)}
        finally:
            quit_event.set()
            await watching
            await nc.close()

    return run(scenario(), timeout=180)


def expected(copies: dict[str, tuple[bytes, float]]) -> dict[str, str]:
    return {hashlib.sha256(data).hexdigest(): name for name, (data, _) in copies.items()}


def test_a_copy_pausing_half_way_gives_one_submission_of_the_whole_file_for_every_type(
    nats_server: EmbeddedNats, tmp_path: Path
) -> None:
    copies = {f"slow.{kind}": (sample(kind), 5.0) for kind in ("jpeg", "pdf", "tiff", "png")}
    assert submitted_after_copies(nats_server, tmp_path / "inbox", copies) == expected(copies)


def test_a_pause_of_thirty_seconds_is_waited_out(nats_server: EmbeddedNats, tmp_path: Path) -> None:
    copies = {"very-slow.jpg": (sample("jpeg"), 30.0)}
    assert submitted_after_copies(nats_server, tmp_path / "inbox", copies) == expected(copies)


@pytest.mark.parametrize(
    ("name", "data"),
    [("notes.txt", b"not a scan, and nothing says where it ends"), ("cut.jpg", sample("jpeg")[:50_000])],
    ids=["unknown-type", "cut-short-for-good"],
)
def test_a_file_that_never_looks_complete_is_read_after_the_long_quiet_time(
    nats_server: EmbeddedNats, tmp_path: Path, name: str, data: bytes
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / name).write_bytes(data)  # whole already: nothing more will come
    submitted = submitted_after_copies(nats_server, inbox, {}, files=1, incomplete_seconds=4.0)
    assert submitted == {hashlib.sha256(data).hexdigest(): name}  # so that bad input still gets its record
