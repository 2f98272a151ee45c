"""The file watch: new files are reported within seconds, but only once they stop changing and are unlocked."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from librarrarian_contracts import MediaProbed
from librarrarian_contracts.codec import media_decoder
from librarrarian_scanner import service
from librarrarian_scanner.settings import Settings
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext


@pytest.fixture
async def probed(bus: tuple[Client, JetStreamContext]) -> AsyncIterator[list[MediaProbed]]:
    seen: list[MediaProbed] = []

    async def on_event(msg: Msg) -> None:
        event = media_decoder.decode(msg.data)
        if isinstance(event, MediaProbed):
            seen.append(event)

    sub = await bus[1].subscribe("media.>", ordered_consumer=True, cb=on_event)
    yield seen
    await sub.unsubscribe()


@pytest.fixture
async def library_root(tmp_path: Path, nats_url: str, database_url: str) -> AsyncIterator[Path]:
    root = (tmp_path / "media").resolve()
    (root / "Movies").mkdir(parents=True)
    settings = Settings(
        nats_url=nats_url,
        database_url=database_url,
        media_paths=(root,),
        scan_interval_seconds=0,
        watch_settle_seconds=1.0,
    )
    stopping = asyncio.Event()
    task = asyncio.create_task(service.run(settings, stopping))
    await asyncio.sleep(0)
    yield root
    stopping.set()
    await asyncio.wait_for(task, 30)


def names(events: list[MediaProbed]) -> list[str]:
    return [Path(e.path).name for e in events]


async def test_a_new_file_is_reported_once_it_has_settled(
    library_root: Path, probed: list[MediaProbed], shared_media: Path
) -> None:
    await asyncio.sleep(1.0)  # the watch is set up after the (empty) start scan
    target = library_root / "Movies" / "Bikes (2020).mp4"
    data = (shared_media / "bikes.mp4").read_bytes()
    # Copied slowly, like a download: nothing may be reported while it grows.
    with target.open("wb") as handle:
        for start in range(0, len(data), len(data) // 6):
            handle.write(data[start : start + len(data) // 6])
            handle.flush()
            await asyncio.sleep(0.4)
            assert "Bikes (2020).mp4" not in names(probed), "probed while still being written"
    events = await eventually(
        lambda: [e for e in probed if Path(e.path).name == "Bikes (2020).mp4"], timeout=15
    )
    assert len(events) == 1 and events[0].identity.size == len(data)


async def test_a_locked_file_waits_for_its_lock_to_go(
    library_root: Path, probed: list[MediaProbed], shared_media: Path
) -> None:
    await asyncio.sleep(1.0)
    lock = library_root / "Movies" / "Import.mkv.lock"
    lock.write_text("")
    shutil.copyfile(shared_media / "bikes.mp4", library_root / "Movies" / "Import.mkv")
    await asyncio.sleep(3.0)  # longer than the settle time: it would have been reported by now
    assert "Import.mkv" not in names(probed)
    lock.unlink()
    await eventually(lambda: "Import.mkv" in names(probed), timeout=15)
