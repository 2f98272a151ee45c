"""The services an Arr flow crosses, each run in-process on the test's NATS server and database (each in its
own schema): the scanner (the catalogue), the scheduler (the jobs of record) and the arr service; and a
fixture library of real clips that a fake app describes."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from librarrarian_contracts import ArrApp, StartArrScan, publish, topology
from librarrarian_contracts.arr import ArrAppStatus, ArrSetup
from librarrarian_contracts.sources import PathMapping
from librarrarian_contracts.views import JobsPage, JobsQuery, JobView
from librarrarian_runtime.queries import ask
from librarrarian_scanner import service as scanner_service
from librarrarian_scanner.settings import Settings as ScannerSettings
from librarrarian_scheduler import service as scheduler_service
from librarrarian_scheduler.settings import Settings as SchedulerSettings
from librarrarian_testing import eventually
from librarrarian_testing.media_servers import FakeArr, FakeFile, FakeItem
from librarrarian_testing.scanning import scanner_answers
from nats.aio.client import Client

from .arr_service import ArrService


@contextlib.asynccontextmanager
async def scanner_and_scheduler(
    nc: Client, nats_url: str, database_url: str, media: Path, **scheduler: float
) -> AsyncIterator[None]:
    stopping = asyncio.Event()
    scan = ScannerSettings(
        nats_url=nats_url,
        database_url=database_url,
        media_paths=(media,),
        scan_on_start=False,
        scan_interval_seconds=0,
        watch=False,
    )
    tasks = [
        asyncio.create_task(scanner_service.run(scan, stopping)),
        asyncio.create_task(
            scheduler_service.run(SchedulerSettings(nats_url, database_url, **scheduler), stopping)  # type: ignore[arg-type]
        ),
    ]
    try:
        await eventually(lambda: scanner_answers(nc), timeout=30, message="scanner answering")
        await eventually(lambda: jobs(nc), timeout=30, interval=0.2, message="scheduler answering")
        yield
    finally:
        stopping.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)


async def jobs(nc: Client, kind: str | None = None, statuses: tuple[str, ...] = ()) -> list[JobView] | bool:
    try:
        page = await ask(
            nc, topology.SCHEDULER_JOBS_QUERY, JobsQuery(kind=kind, statuses=statuses, limit=500), JobsPage
        )  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - not answering yet
        return False
    return list(page.items) or True


async def job_list(nc: Client, kind: str | None = None, statuses: tuple[str, ...] = ()) -> list[JobView]:
    found = await jobs(nc, kind, statuses)
    return found if isinstance(found, list) else []


async def catalogued(database_url: str) -> set[str]:
    conn = await asyncpg.connect(database_url)
    try:
        return {r["path"] for r in await conn.fetch("SELECT path FROM scanner.files")}
    finally:
        await conn.close()


async def set_up(arr: ArrService, fake: FakeArr, url: str, **options: object) -> ArrAppStatus:
    setup = ArrSetup(
        app=ArrApp(fake.kind),
        url=url,
        api_key=fake.api_key,
        mappings=(PathMapping(server=fake.root, local=str(fake.local_root)),),
        **options,  # type: ignore[arg-type]
    )
    return await arr.ask(topology.ARR_SET, setup, ArrAppStatus)


async def start_scan(arr: ArrService, app: ArrApp, kind: str) -> str:
    command = StartArrScan(app=app, kind=kind)  # type: ignore[arg-type]
    await publish(arr.js, command)
    return command.event_id


@dataclass
class Shows:
    """A Sonarr library of real clips: one series, two episodes named as a download named them."""

    fake: FakeArr
    series: FakeItem

    @property
    def first(self) -> FakeFile:
        return self.series.files[0]

    @property
    def second(self) -> FakeFile:
        return self.series.files[1]

    def path(self, file: FakeFile) -> Path:
        return self.fake.local(self.series, file.relative)


def shows(media: Path, shared_media: Path, **fake: object) -> Shows:
    tv = media / "TV"
    season = tv / "Bikes" / "Season 01"
    season.mkdir(parents=True)
    shutil.copyfile(shared_media / "bikes.mp4", season / "bikes.s01e01.x264.mp4")
    shutil.copyfile(shared_media / "bigbuckbunny.mp4", season / "bikes.s01e02.x264.mp4")
    series = FakeItem(
        id=7,
        title="Bikes",
        folder="Bikes",
        files=[
            FakeFile(
                id=71,
                relative="Season 01/bikes.s01e01.x264.mp4",
                desired="Season 01/Bikes - S01E01 - Pilot [HDTV-720p].mp4",
                quality="HDTV-720p",
            ),
            FakeFile(
                id=72,
                relative="Season 01/bikes.s01e02.x264.mp4",
                desired="Season 01/Bikes - S01E02 - Downhill [HDTV-720p].mp4",
                quality="HDTV-720p",
            ),
        ],
    )
    return Shows(FakeArr(kind="sonarr", root="/tv", local_root=tv, items=[series], **fake), series)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def encoder(nc: Client, nats_url: str, media: Path) -> AsyncIterator[None]:
    """A CPU encoder on the test's library, with the fastest presets (a test needs a result, not a good one)."""
    from librarrarian_contracts.topology import HwClass
    from librarrarian_encoder import service as encoder_service
    from librarrarian_encoder.settings import Settings as EncoderSettings
    from librarrarian_testing import transcode

    await transcode.put(nc.jetstream(), transcode.fastest())
    settings = EncoderSettings(
        nats_url=nats_url,
        media_paths=(media,),
        node="arr-test-encoder",
        hw_classes=(HwClass.CPU,),
        grace_seconds=5,
    )
    stopping = asyncio.Event()
    task = asyncio.create_task(encoder_service.run(settings, stopping))
    try:
        yield
    finally:
        stopping.set()
        await asyncio.wait_for(task, 30)
