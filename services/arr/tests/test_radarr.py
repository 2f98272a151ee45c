"""Radarr's own flows, against a fake Radarr (its v3 OpenAPI document) over real files: a rename scan's job
released and carried out through Radarr's command API (``movieId``), and after a real transcode the movie
rescanned (``RescanMovie``) then, with auto-rename, its file renamed to the scheme that names the codec."""

from __future__ import annotations

import shutil
from pathlib import Path

from librarrarian_contracts import ArrApp, StartScan, publish, topology
from librarrarian_contracts.views import ReleasedJobs, ReleaseJobs
from librarrarian_runtime.queries import ask
from librarrarian_testing import eventually
from librarrarian_testing.media_servers import FakeArr, FakeFile, FakeItem, serving

from .arr_cluster import encoder, job_list, scanner_and_scheduler, set_up, start_scan
from .arr_service import ArrService

DOWNLOADED = "bikes.2020.1080p.x264.mp4"
NAMED = "Bikes (2020) [Bluray-1080p x264].mp4"
HEVC_NAMED = "Bikes (2020) [Bluray-1080p HEVC].mp4"


def movies(media: Path, shared_media: Path, desired: str) -> tuple[FakeArr, FakeItem]:
    """One movie, as a download named it, in the folder Radarr keeps it in."""
    folder = media / "Movies" / "Bikes (2020)"
    folder.mkdir(parents=True)
    shutil.copyfile(shared_media / "bikes.mp4", folder / DOWNLOADED)
    movie = FakeItem(
        id=3,
        title="Bikes",
        folder="Bikes (2020)",
        files=[FakeFile(id=31, relative=DOWNLOADED, desired=desired)],
    )
    fake = FakeArr(
        kind="radarr", root="/movies", local_root=media / "Movies", items=[movie], version="5.14.0.9383"
    )
    return fake, movie


def on_disk(*paths: Path) -> list[bool]:
    return [p.exists() for p in paths]


async def test_a_radarr_rename_waits_for_approval_then_radarr_renames_the_file(
    arr: ArrService, nats_url: str, database_url: str, media: Path, shared_media: Path
) -> None:
    fake, movie = movies(media, shared_media, NAMED)
    before, after = fake.local(movie, DOWNLOADED), fake.local(movie, NAMED)
    nc = arr.nc
    async with scanner_and_scheduler(nc, nats_url, database_url, media), serving(fake.build()) as url:
        status = await set_up(arr, fake, url, rename_approval=True)
        assert status.app == "radarr" and status.configured
        await start_scan(arr, ArrApp.RADARR, "rename")
        (waiting,) = await eventually(lambda: job_list(nc, "rename"), timeout=30, message="the rename")
        assert (waiting.status, waiting.app, waiting.path, waiting.new_path) == (
            "awaiting_approval",
            "radarr",
            str(before),
            str(after),
        )
        assert fake.commands == []
        await ask(nc, topology.SCHEDULER_RELEASE, ReleaseJobs(job_id=waiting.id), ReleasedJobs)
        await eventually(lambda: job_list(nc, "rename", ("done",)), timeout=30, message="renamed")
        assert fake.commands == [{"name": "RenameFiles", "movieId": 3, "files": [31]}]
        assert on_disk(after, before) == [True, False]
    assert fake.rejected == []


async def test_after_a_transcode_radarr_rescans_the_movie_then_renames_its_file(
    arr: ArrService, nats_url: str, database_url: str, media: Path, shared_media: Path
) -> None:
    fake, movie = movies(media, shared_media, HEVC_NAMED)  # the scheme names the codec
    before, after = fake.local(movie, DOWNLOADED), fake.local(movie, HEVC_NAMED)
    nc = arr.nc
    async with (
        scanner_and_scheduler(nc, nats_url, database_url, media),
        serving(fake.build()) as url,
        encoder(nc, nats_url, media),
    ):
        await set_up(arr, fake, url, auto_rename=True)
        await publish(arr.js, StartScan())
        await eventually(
            lambda: job_list(nc, "transcode", ("done",)), timeout=120, interval=0.2, message="the transcode"
        )
        (rename,) = await eventually(
            lambda: job_list(nc, "rename", ("done",)), timeout=60, interval=0.2, message="the rename after it"
        )
        assert fake.commands == [
            {"name": "RescanMovie", "movieId": 3},
            {"name": "RenameFiles", "movieId": 3, "files": [31]},
        ]
        assert (rename.path, rename.new_path, rename.app) == (str(before), str(after), "radarr")
        assert on_disk(after, before) == [True, False]
    assert fake.rejected == []
