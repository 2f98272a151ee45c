"""Track rules per library folder, as the scheduler plans them: a transcode queued from a folder with rules
carries its plan (the streams it keeps, and why it drops the others), visible in the job before it runs and
sent in its work; a folder without rules keeps every stream. Real NATS, PostgreSQL and a film made at test
time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from librarrarian_contracts import FileIdentity, MediaProbed, publish, topology
from librarrarian_contracts.settings import FOLDERS_KEY, LibraryFolder, ScannerFolders, TrackRules
from librarrarian_contracts.views import JobsPage, JobsQuery
from librarrarian_media import probe
from librarrarian_runtime.queries import ask
from librarrarian_scheduler.settings import Settings
from librarrarian_testing import eventually
from librarrarian_testing import tracks as clips
from nats.aio.client import Client
from nats.js import JetStreamContext

from .scheduler_client import pull_work, running_scheduler

RULES = TrackRules(languages=("eng",), drop_commentary=True, image_subtitles=False)


@pytest.fixture
async def folders(bus: tuple[Client, JetStreamContext], tmp_path: Path) -> tuple[Path, Path]:
    """Two library folders: ``films`` with track rules, ``other`` without."""
    films, other = tmp_path / "films", tmp_path / "other"
    setting = ScannerFolders(
        folders=(LibraryFolder(path=str(films), type="movies", tracks=RULES), LibraryFolder(path=str(other)))
    )
    kv = await bus[1].key_value(topology.SETTINGS.name)
    await kv.put(FOLDERS_KEY, msgspec.json.encode(setting))
    return films, other


@pytest.fixture
async def scheduler(
    bus: tuple[Client, JetStreamContext], nats_url: str, database_url: str, folders: tuple[Path, Path]
) -> AsyncIterator[None]:
    settings = Settings(nats_url=nats_url, database_url=database_url)
    async with running_scheduler(bus[0], settings):
        yield


async def test_a_folders_rules_make_the_jobs_plan_shown_before_it_runs(
    bus: tuple[Client, JetStreamContext],
    scheduler: None,
    folders: tuple[Path, Path],
    tmp_path: Path,
    shared_media: Path,
) -> None:
    nc, js = bus
    films, other = folders
    film = clips.film(tmp_path / "film.mkv", shared_media)
    found = probe(film)
    identity = FileIdentity(size=film.stat().st_size, mtime_ns=1, inode=7)
    for folder in (films, other):
        path = str(folder / "film.mkv")
        await publish(js, MediaProbed(path=path, identity=identity, probe=found, library=str(folder)))

    async def both() -> JobsPage | None:
        page = await ask(nc, topology.SCHEDULER_JOBS_QUERY, JobsQuery(statuses=("pending",)), JobsPage)
        return page if len(page.items) == 2 else None

    page = await eventually(both)
    by_folder = {Path(job.path).parent: job for job in page.items}
    planned = by_folder[films]
    assert planned.streams == (1, 5, 8)
    assert planned.track_plan == (
        "drop audio #2 (fre): language fre",
        "drop audio #3 (ger): language ger",
        'drop audio #4 (eng, "Commentary"): commentary',
        "drop subtitle #6 (fre): language fre",
        "drop subtitle #7 (eng): image subtitle (dvd_subtitle)",
    )
    assert (by_folder[other].streams, by_folder[other].track_plan) == (None, ())
    work = {Path(w.path).parent: w for w in await pull_work(js, 2)}
    assert work[films].streams == (1, 5, 8) and work[other].streams is None
