"""The scanner service against real NATS and PostgreSQL on a real library."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from librarrarian_contracts import (
    MediaProbed,
    MediaProbeFailed,
    ScanCompleted,
    ScanRequested,
    publish,
    topology,
)
from librarrarian_contracts.codec import media_decoder
from librarrarian_contracts.messages import MediaEvent
from librarrarian_scanner import service
from librarrarian_scanner.settings import Settings
from librarrarian_testing import eventually, library
from nats.aio.client import Client
from nats.js import JetStreamContext


class MediaLog:
    """Everything on the MEDIA stream, read with an ordered ephemeral consumer."""

    def __init__(self, js: JetStreamContext) -> None:
        self.js = js
        self.events: list[MediaEvent] = []

    async def start(self) -> None:
        self.sub = await self.js.subscribe("media.>", ordered_consumer=True, cb=self._on)

    async def _on(self, msg) -> None:  # type: ignore[no-untyped-def]
        self.events.append(media_decoder.decode(msg.data))

    def scans(self) -> list[ScanCompleted]:
        return [e for e in self.events if isinstance(e, ScanCompleted)]

    def files(self, after_scan: int = 0) -> list[MediaProbed | MediaProbeFailed]:
        """File events after the ``after_scan``-th scan summary."""
        seen = 0
        out: list[MediaProbed | MediaProbeFailed] = []
        for event in self.events:
            if isinstance(event, ScanCompleted):
                seen += 1
            elif seen >= after_scan:
                out.append(event)  # type: ignore[arg-type]
        return out


@pytest.fixture
async def media(bus: tuple[Client, JetStreamContext]) -> AsyncIterator[MediaLog]:
    log = MediaLog(bus[1])
    await log.start()
    yield log
    await log.sub.unsubscribe()


@pytest.fixture
async def scanner(
    tmp_path: Path, shared_media: Path, nats_url: str, database_url: str
) -> AsyncIterator[library.Library]:
    lib = library.build(tmp_path / "media", shared_media)
    settings = Settings(
        nats_url=nats_url,
        database_url=database_url,
        media_paths=(lib.root.resolve(),),
        scan_interval_seconds=0,
    )
    stopping = asyncio.Event()
    task = asyncio.create_task(service.run(settings, stopping))
    yield lib
    stopping.set()
    await asyncio.wait_for(task, 20)


async def test_a_scan_reports_every_video_once_and_rescans_incrementally(
    scanner: library.Library, media: MediaLog, bus: tuple[Client, JetStreamContext], database_url: str
) -> None:
    lib = scanner
    _, js = bus
    first = (await eventually(media.scans, timeout=60))[0]
    assert (first.seen, first.probed, first.unchanged, first.failed) == (5, 5, 0, 1)
    events = {Path(e.path).name: e for e in media.files()}
    assert sorted(events) == [
        "Already HEVC.mkv",
        "Big Buck Bunny.mp4",
        "Bikes S01E01.mkv",
        "Bikes S01E02.avi",
        "Broken.mp4",
    ]
    broken = events["Broken.mp4"]
    assert isinstance(broken, MediaProbeFailed) and "not a readable video" in broken.error
    bbb = events["Big Buck Bunny.mp4"]
    assert isinstance(bbb, MediaProbed) and bbb.probe.video_codec == "h264"
    assert bbb.library == str(lib.root.resolve())

    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT path, status, error FROM scanner.files ORDER BY path")
    finally:
        await conn.close()
    assert len(rows) == 5 and sum(r["status"] == "error" for r in rows) == 1

    # Unchanged files are not probed again; a touched one is.
    os.utime(lib.transcode["avi"], ns=(1_000_000_000, 1_000_000_000))
    await publish(js, ScanRequested())
    second = (await eventually(lambda: len(media.scans()) >= 2 and media.scans(), timeout=60))[1]
    assert (second.seen, second.probed, second.unchanged) == (5, 1, 4)
    assert [Path(e.path).name for e in media.files(after_scan=1)] == ["Bikes S01E02.avi"]

    # Force re-probes everything; a subfolder can be scanned alone.
    await publish(js, ScanRequested(force=True))
    third = (await eventually(lambda: len(media.scans()) >= 3 and media.scans(), timeout=60))[2]
    assert third.probed == 5
    await publish(js, ScanRequested(roots=(str(lib.root / "TV"),), force=True))
    fourth = (await eventually(lambda: len(media.scans()) >= 4 and media.scans(), timeout=60))[3]
    assert (fourth.seen, fourth.probed) == (2, 2)


async def test_a_root_outside_the_media_paths_is_refused(
    scanner: library.Library, media: MediaLog, bus: tuple[Client, JetStreamContext], tmp_path: Path
) -> None:
    _, js = bus
    await eventually(media.scans, timeout=60)
    await publish(js, ScanRequested(roots=(str(tmp_path),)))  # the parent of the library
    await publish(js, ScanRequested(roots=(str(scanner.root / ".." / ".."),)))
    await publish(js, ScanRequested(roots=(str(scanner.root / "Movies"),)))  # a marker that is allowed
    scans = await eventually(lambda: len(media.scans()) >= 2 and media.scans(), timeout=60)
    assert len(scans) == 2 and scans[1].roots == (str((scanner.root / "Movies").resolve()),)
    info = await js.consumer_info(topology.CONTROL.name, topology.SCANNER_CONTROL.durable)
    assert info.num_pending == 0
