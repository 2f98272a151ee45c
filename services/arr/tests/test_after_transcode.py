"""After a real transcode: the app that owns the file (found by its own records: the series whose folder
holds the file, through the path mappings) is told to rescan it, and with auto-rename the file is then
renamed to the app's scheme. An app that is down makes the rescans and renames wait and try again; the
transcode itself is done all the same."""

from __future__ import annotations

from pathlib import Path

from librarrarian_contracts import ArrApp, StartScan, publish, topology
from librarrarian_contracts.views import ReleasedJobs, ReleaseJobs
from librarrarian_embedded.nats_server import free_port
from librarrarian_runtime.queries import ask
from librarrarian_testing import eventually
from librarrarian_testing.media_servers import serving

from .arr_cluster import encoder, job_list, scanner_and_scheduler, set_up, shows, start_scan
from .arr_service import ArrService

HEVC_NAME = "Season 01/Bikes - S01E01 - Pilot [HEVC].mp4"


def one_episode(media: Path, shared_media: Path):  # type: ignore[no-untyped-def]
    library = shows(media, shared_media)
    library.path(library.second).unlink()
    library.series.files.pop()
    library.first.desired = HEVC_NAME  # the scheme names the codec: after the transcode, its name is wrong
    return library


async def test_a_finished_transcode_has_its_app_rescan_then_rename_the_file(
    arr: ArrService, nats_url: str, database_url: str, media: Path, shared_media: Path
) -> None:
    library = one_episode(media, shared_media)
    fake, nc = library.fake, arr.nc
    original = library.path(library.first)
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
        renamed = library.fake.local(library.series, HEVC_NAME)
        await eventually(
            lambda: job_list(nc, "rename", ("done",)), timeout=60, interval=0.2, message="the rename after it"
        )
        assert fake.commands == [
            {"name": "RescanSeries", "seriesId": 7},
            {"name": "RenameFiles", "seriesId": 7, "files": [71]},
        ]
        assert on_disk(original, renamed) == [False, True]
        (rename,) = await job_list(nc, "rename")
        assert (rename.path, rename.new_path, rename.app) == (str(original), str(renamed), "sonarr")
        # The transcode's record follows its output to the new name (so a scan does not take it for new).
        await eventually(
            lambda: _output(job_list(nc, "transcode"), str(renamed)), timeout=30, message="output followed"
        )
    assert fake.rejected == []


async def test_an_app_that_is_down_makes_its_jobs_wait_and_try_again_never_failing_the_transcode(
    arr: ArrService, nats_url: str, database_url: str, media: Path, shared_media: Path
) -> None:
    library = one_episode(media, shared_media)
    fake, nc = library.fake, arr.nc
    port = free_port()
    async with scanner_and_scheduler(nc, nats_url, database_url, media, retry_delay_seconds=0.5):
        async with serving(fake.build(), port) as url:
            await set_up(arr, fake, url, rename_approval=True)
            scan_id = await start_scan(arr, ArrApp.SONARR, "rename")
            (waiting,) = await eventually(lambda: job_list(nc, "rename"), timeout=30, message="a rename")
            assert waiting.status == "awaiting_approval", scan_id
        # Sonarr is down: the transcode completes; the rescan and the approved rename wait for it.
        async with encoder(nc, nats_url, media):
            await publish(arr.js, StartScan())
            (done,) = await eventually(
                lambda: job_list(nc, "transcode", ("done",)), timeout=120, interval=0.2, message="transcode"
            )
            await ask(nc, topology.SCHEDULER_RELEASE, ReleaseJobs(job_id=waiting.id), ReleasedJobs)
            retried = await eventually(
                lambda: _retried(job_list(nc, "rename")), timeout=30, message="the rename tried again"
            )
            assert retried.status == "pending" and "cannot be reached" in (retried.reason or "")
            assert retried.retry_at is not None
            assert fake.commands == []
            async with serving(fake.build(), port):  # Sonarr is back
                await eventually(
                    lambda: job_list(nc, "rename", ("done",)), timeout=60, interval=0.2, message="renamed"
                )
                await eventually(lambda: _rescanned(fake.commands), timeout=60, message="the rescan")
        (transcode,) = await job_list(nc, "transcode")
        assert transcode.id == done.id and transcode.status == "done"
        assert not await job_list(nc, statuses=("failed",))
    assert fake.rejected == []


def on_disk(*paths: Path) -> list[bool]:
    return [p.exists() for p in paths]


async def _output(found: object, path: str) -> bool:
    return [j.output_path for j in await found] == [path]  # type: ignore[attr-defined]


async def _retried(found: object) -> object:
    jobs = await found  # type: ignore[misc]
    return jobs[0] if jobs and jobs[0].attempts >= 2 and jobs[0].status == "pending" else None


def _rescanned(commands: list[dict[str, object]]) -> bool:
    return {"name": "RescanSeries", "seriesId": 7} in commands
