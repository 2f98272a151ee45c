"""Rename scans against a fake Sonarr over real files: the app's rename preview becomes one rename job per
file awaiting approval; releasing one has the app rename it (its command API, waited for), and the file keeps
its identity under its new name (its catalogue record and its waiting transcode follow it; a scan after the
rename finds nothing new). A scan shows its progress in the scans bucket and stops when cancelled, even when
the cancel was sent before its command was taken."""

from __future__ import annotations

from pathlib import Path

import msgspec
from librarrarian_contracts import ArrApp, CancelScan, StartScan, publish, topology
from librarrarian_contracts.scans import ScanStatus, scan_key
from librarrarian_contracts.views import ReleasedJobs, ReleaseJobs
from librarrarian_runtime.queries import ask
from librarrarian_testing import eventually
from librarrarian_testing.media_servers import FakeItem, serving
from librarrarian_testing.scanning import scan_entries
from nats.js import JetStreamContext

from .arr_cluster import catalogued, job_list, scanner_and_scheduler, set_up, shows, start_scan
from .arr_service import ArrService, start


async def scan_entry(js: JetStreamContext, scan_id: str) -> ScanStatus | None:
    kv = await js.key_value(topology.SCANS.name)
    try:
        return msgspec.json.decode((await kv.get(scan_key(scan_id))).value or b"", type=ScanStatus)
    except Exception:  # noqa: BLE001 - not written yet
        return None


async def finished(js: JetStreamContext, scan_id: str) -> ScanStatus | None:
    entry = await scan_entry(js, scan_id)
    return entry if entry is not None and entry.finished_at is not None else None


async def test_a_rename_scan_queues_renames_that_run_once_approved_and_the_file_keeps_its_identity(
    arr: ArrService, nats_url: str, database_url: str, media: Path, shared_media: Path
) -> None:
    library = shows(media, shared_media)
    fake, nc = library.fake, arr.nc
    first_before, second_before = library.path(library.first), library.path(library.second)
    async with scanner_and_scheduler(nc, nats_url, database_url, media), serving(fake.build()) as url:
        # The library as the scanner knows it: two H.264 files, each with a transcode waiting (no encoder runs).
        await publish(arr.js, StartScan())
        await eventually(lambda: _count(job_list(nc, "transcode"), 2), timeout=60, message="two transcodes")
        await set_up(arr, fake, url, rename_approval=True)

        scan_id = await start_scan(arr, ArrApp.SONARR, "rename")
        entry = await eventually(lambda: finished(arr.js, scan_id), timeout=30, message="the scan's end")
        assert (entry.kind, entry.app, entry.state, entry.seen, entry.queued) == (
            "rename",
            "sonarr",
            "done",
            1,
            2,
        )
        renames = await eventually(lambda: _count(job_list(nc, "rename"), 2), timeout=30, message="renames")
        assert {(j.status, j.app, j.path, j.new_path) for j in renames} == {
            ("awaiting_approval", "sonarr", str(first_before), str(library.path(library.first).parent / "Bikes - S01E01 - Pilot [HDTV-720p].mp4")),
            ("awaiting_approval", "sonarr", str(second_before), str(library.path(library.second).parent / "Bikes - S01E02 - Downhill [HDTV-720p].mp4")),
        }  # fmt: skip
        assert fake.commands == []  # nothing is renamed before a user says so

        first = next(j for j in renames if j.path == str(first_before))
        released = await ask(nc, topology.SCHEDULER_RELEASE, ReleaseJobs(job_id=first.id), ReleasedJobs)
        assert released.released == 1
        done = await eventually(
            lambda: _one(job_list(nc, "rename", ("done",))), timeout=30, message="the rename done"
        )
        assert done.id == first.id and done.output_path == first.new_path
        assert fake.commands == [{"name": "RenameFiles", "seriesId": 7, "files": [71]}]
        renamed = Path(str(first.new_path))
        assert on_disk(renamed, first_before) == [True, False]

        # Its identity follows it: the catalogue record, the waiting transcode; a new scan finds nothing new.
        await eventually(
            lambda: _has(catalogued(database_url), str(renamed)), timeout=30, message="the record moved"
        )
        assert str(first_before) not in await catalogued(database_url)
        await eventually(
            lambda: _paths(job_list(nc, "transcode"), {str(renamed), str(second_before)}),
            timeout=30,
            message="the transcode follows the file",
        )
        scans_before = len(await scan_entries_done(arr.js))
        await publish(arr.js, StartScan())
        await eventually(
            lambda: _count(scan_entries_done(arr.js), scans_before + 1), timeout=60, message="the second scan"
        )
        latest = (await scan_entries_done(arr.js))[-1]
        assert (latest.seen, latest.to_probe) == (2, 0)  # both files known: nothing probed, nothing new
        assert len(await job_list(nc, "transcode")) == 2

        # Release all the rest at once.
        await ask(nc, topology.SCHEDULER_RELEASE, ReleaseJobs(kind="rename"), ReleasedJobs)
        await eventually(lambda: _count(job_list(nc, "rename", ("done",)), 2), timeout=30, message="both")
        assert on_disk(second_before, library.path(library.second)) == [False, True]
    assert fake.rejected == []


async def test_a_rename_scan_can_be_cancelled_midway(
    arr: ArrService, media: Path, nats_url: str, database_url: str, shared_media: Path
) -> None:
    library = shows(media, shared_media, delay_seconds=0.1)
    fake = library.fake
    fake.items += [FakeItem(id=100 + n, title=f"Show {n}", folder=f"Show {n}") for n in range(60)]
    async with serving(fake.build()) as url:
        await set_up(arr, fake, url)
        scan_id = await start_scan(arr, ArrApp.SONARR, "rename")
        await eventually(lambda: _seen(scan_entry(arr.js, scan_id)), timeout=30, message="the scan under way")
        await publish(arr.js, CancelScan(scan_id=scan_id), topology.scan_cancel_subject(scan_id))
        entry = await eventually(lambda: finished(arr.js, scan_id), timeout=30, message="the scan's end")
        assert entry.state == "cancelled" and entry.seen < 61
    assert fake.rejected == []


async def test_a_scan_cancelled_before_its_command_was_taken_never_asks_the_app(
    arr: ArrService, media: Path, shared_media: Path
) -> None:
    library = shows(media, shared_media)
    fake = library.fake
    async with serving(fake.build()) as url:
        await set_up(arr, fake, url)
        await arr.stop()  # the scan and its cancel wait in the stream for the next arr service
        scan_id = await start_scan(arr, ArrApp.SONARR, "rename")
        await publish(arr.js, CancelScan(scan_id=scan_id), topology.scan_cancel_subject(scan_id))
        asked = len(fake.seen)
        again = await start(arr.nc, arr.js, arr.settings, media)
        try:
            entry = await eventually(lambda: finished(arr.js, scan_id), timeout=30, message="the scan's end")
        finally:
            await again.stop()
        assert (entry.state, entry.seen, entry.queued) == ("cancelled", 0, 0)
        assert len(fake.seen) == asked  # the app was not asked
    assert fake.rejected == []


def on_disk(*paths: Path) -> list[bool]:
    return [p.exists() for p in paths]


async def scan_entries_done(js: JetStreamContext) -> list[ScanStatus]:
    """The library scans (not the app scans) that ended."""
    return [e for e in await scan_entries(js, "request") if e.finished_at is not None and e.kind == "library"]


async def _count(found: object, n: int) -> list[object] | None:
    items = list(await found)  # type: ignore[misc]
    return items if len(items) == n else None


async def _one(found: object) -> object:
    items = list(await found)  # type: ignore[misc]
    return items[0] if len(items) == 1 else None


async def _has(found: object, path: str) -> bool:
    return path in await found  # type: ignore[misc]


async def _paths(found: object, paths: set[str]) -> bool:
    return {j.path for j in await found} == paths  # type: ignore[misc]


async def _seen(found: object) -> bool:
    entry = await found  # type: ignore[misc]
    return entry is not None and entry.seen >= 1
