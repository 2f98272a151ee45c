"""Quality scans against a fake Radarr over real files: each file below its profile's cutoff becomes a
quality_mismatch entry to review, and (as the app's setting says, by default) its transcode is held with the
reason on its record: a new one is recorded awaiting approval, a waiting one is taken back from the encoders.
Releasing the entry releases the transcode."""

from __future__ import annotations

import shutil
from pathlib import Path

from librarrarian_contracts import ArrApp, StartScan, publish, topology
from librarrarian_contracts.views import ReleasedJobs, ReleaseJobs
from librarrarian_runtime.queries import ask
from librarrarian_testing import eventually
from librarrarian_testing.media_servers import FakeArr, FakeFile, FakeItem, serving
from nats.js import JetStreamContext

from .arr_cluster import job_list, scanner_and_scheduler, set_up, start_scan
from .arr_service import ArrService

REASON = "radarr: HDTV-720p is below the cutoff Bluray-1080p"


def movies(media: Path, shared_media: Path) -> FakeArr:
    root = media / "Movies"
    for folder, clip in (("Big Buck Bunny (2008)", "bigbuckbunny.mp4"), ("Bikes (2020)", "bikes.mp4")):
        (root / folder).mkdir(parents=True)
        shutil.copyfile(shared_media / clip, root / folder / f"{folder}.mp4")
    below = FakeFile(id=11, relative="Big Buck Bunny (2008).mp4", quality="HDTV-720p", cutoff_met=False)
    fine = FakeFile(id=21, relative="Bikes (2020).mp4")
    items = [
        FakeItem(id=1, title="Big Buck Bunny", folder="Big Buck Bunny (2008)", files=[below]),
        FakeItem(id=2, title="Bikes", folder="Bikes (2020)", files=[fine]),
    ]
    return FakeArr(kind="radarr", root="/movies", local_root=root, items=items)


async def waiting_work(js: JetStreamContext) -> int:
    return int((await js.stream_info(topology.WORK.name)).state.messages)


async def test_a_file_below_its_cutoff_is_reviewed_and_its_new_transcode_held_until_released(
    arr: ArrService, nats_url: str, database_url: str, media: Path, shared_media: Path
) -> None:
    fake, nc = movies(media, shared_media), arr.nc
    below = str(fake.local(fake.items[0], fake.items[0].files[0].relative))
    async with scanner_and_scheduler(nc, nats_url, database_url, media), serving(fake.build()) as url:
        await set_up(arr, fake, url)
        await start_scan(arr, ArrApp.RADARR, "quality")
        (review,) = await eventually(lambda: job_list(nc, "quality_mismatch"), timeout=30, message="review")
        assert (review.status, review.path, review.reason, review.app) == (
            "awaiting_approval",
            below,
            REASON,
            "radarr",
        )

        await publish(arr.js, StartScan())  # the library scan finds both files
        transcodes = await eventually(
            lambda: _two(job_list(nc, "transcode")), timeout=60, message="transcodes"
        )
        held = next(j for j in transcodes if j.path == below)
        assert held.status == "awaiting_approval"
        assert held.reason == f"held: {REASON}; radarr may replace it"
        assert {j.status for j in transcodes if j.path != below} == {"pending"}
        # Only the other file's transcode waits for an encoder (published from the outbox, a moment later).
        await eventually(lambda: _equals(waiting_work(arr.js), 1), timeout=30, message="one waiting")

        released = await ask(nc, topology.SCHEDULER_RELEASE, ReleaseJobs(job_id=review.id), ReleasedJobs)
        assert released.released == 2  # the entry, and the transcode it held
        (reviewed,) = await job_list(nc, "quality_mismatch")
        assert reviewed.status == "done"
        freed = next(j for j in await job_list(nc, "transcode") if j.path == below)
        assert (freed.status, freed.reason) == ("pending", None)
        await eventually(lambda: _equals(waiting_work(arr.js), 2), timeout=30, message="its work published")
    assert fake.rejected == []


async def test_a_waiting_transcode_is_taken_back_when_the_setting_holds_and_left_when_it_does_not(
    arr: ArrService, nats_url: str, database_url: str, media: Path, shared_media: Path
) -> None:
    fake, nc = movies(media, shared_media), arr.nc
    below = str(fake.local(fake.items[0], fake.items[0].files[0].relative))
    async with scanner_and_scheduler(nc, nats_url, database_url, media), serving(fake.build()) as url:
        await publish(arr.js, StartScan())
        await eventually(lambda: _two(job_list(nc, "transcode", ("pending",))), timeout=60, message="queued")
        await eventually(lambda: _equals(waiting_work(arr.js), 2), timeout=30, message="work published")

        await set_up(arr, fake, url, hold_below_cutoff=False)
        await start_scan(arr, ArrApp.RADARR, "quality")
        await eventually(lambda: job_list(nc, "quality_mismatch"), timeout=30, message="the entry")
        assert {j.status for j in await job_list(nc, "transcode")} == {"pending"}  # not held

        await set_up(arr, fake, url, hold_below_cutoff=True)
        await start_scan(arr, ArrApp.RADARR, "quality")
        held = await eventually(
            lambda: _held(job_list(nc, "transcode", ("awaiting_approval",))), timeout=30, message="held"
        )
        assert held.path == below and (held.reason or "").startswith(f"held: {REASON}")
        await eventually(lambda: _equals(waiting_work(arr.js), 1), timeout=30, message="its work taken back")
        assert len(await job_list(nc, "quality_mismatch")) == 1  # found twice, one entry
    assert fake.rejected == []


async def _two(found: object) -> object:
    jobs = await found  # type: ignore[misc]
    return jobs if len(jobs) == 2 else None


async def _held(found: object) -> object:
    jobs = await found  # type: ignore[misc]
    return jobs[0] if len(jobs) == 1 else None


async def _equals(found: object, expected: int) -> bool:
    return bool(await found == expected)  # type: ignore[misc]
