"""Files a transcode would spoil, as the scanner reports them from real clips: Dolby Vision profile 5 is
skipped with the reason in its job, profile 8 is queued, a hard-linked file is skipped until its other name
goes; a done job's notes (what the output could not keep) are its reason. Real NATS, PostgreSQL and ffmpeg."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from librarrarian_contracts import FileIdentity, JobCompleted, MediaProbed, publish
from librarrarian_contracts.settings import TranscodeSettings
from librarrarian_media import probe
from librarrarian_scheduler.settings import Settings
from librarrarian_testing import eventually
from librarrarian_testing.hdr import dolby_vision_clip
from nats.aio.client import Client
from nats.js import JetStreamContext

from .scheduler_client import granted, jobs, jobs_when, pull_work, running_scheduler, status_is

# HEVC Dolby Vision sources are worth encoding only to AV1: the target a user of such files would choose.
TO_AV1 = TranscodeSettings(target_codec="av1", reencode_hevc=True)


@pytest.fixture
async def scheduler(
    bus: tuple[Client, JetStreamContext], nats_url: str, database_url: str
) -> AsyncIterator[None]:
    settings = Settings(nats_url=nats_url, database_url=database_url, max_attempts=2, retry_delay_seconds=0)
    async with running_scheduler(bus[0], settings, TO_AV1):
        yield


def scanned(path: Path) -> MediaProbed:
    """What the scanner reports of ``path``: its identity (link count too) and its probe."""
    st = os.stat(path)
    identity = FileIdentity(size=st.st_size, mtime_ns=st.st_mtime_ns, inode=st.st_ino, links=st.st_nlink)
    return MediaProbed(path=str(path), identity=identity, probe=probe(path))


async def test_dolby_vision_profile_5_is_skipped_with_the_reason_and_profile_8_is_queued(
    bus: tuple[Client, JetStreamContext], scheduler: None, tmp_path: Path
) -> None:
    nc, js = bus
    five = dolby_vision_clip(tmp_path / "five.mkv", 5)
    eight = dolby_vision_clip(tmp_path / "eight.mkv", 8)
    await publish(js, scanned(five))
    await publish(js, scanned(eight))
    state = await eventually(lambda: jobs_when(nc, 2))
    assert state[str(five)]["status"] == "skipped"
    reason = str(state[str(five)]["reason"])
    assert reason.startswith("Dolby Vision profile 5:") and "wrong colours" in reason
    (work,) = await pull_work(js, 1)
    assert work.path == str(eight) and work.target_codec == "av1"
    # The output's notes are the done job's reason: what it could not keep is said where the job is shown.
    await granted(nc, work.job_id, work.attempt)
    note = "HDR10+ dynamic metadata dropped (no encoder here carries it); the HDR10 layer is kept"
    await publish(
        js,
        JobCompleted(
            job_id=work.job_id,
            attempt=work.attempt,
            delivery=1,
            node="box",
            path=work.path,
            output_path=work.path,
            encoder="libsvtav1",
            codec_before="hevc",
            codec_after="av1",
            size_before=work.identity.size,
            size_after=1,
            duration=1.0,
            elapsed_seconds=1.0,
            notes=(note,),
        ),
    )
    await eventually(lambda: status_is(nc, str(eight), "done"))
    assert (await jobs(nc))[str(eight)]["reason"] == note


async def test_a_hard_linked_file_is_skipped_until_its_other_name_goes(
    bus: tuple[Client, JetStreamContext], scheduler: None, tmp_path: Path, shared_media: Path
) -> None:
    nc, js = bus
    film = tmp_path / "library" / "Bikes.mp4"
    film.parent.mkdir()
    shutil.copyfile(shared_media / "bikes.mp4", film)
    seeding = tmp_path / "downloads" / "Bikes.mp4"
    seeding.parent.mkdir()
    os.link(film, seeding)
    await publish(js, scanned(film))
    state = await eventually(lambda: jobs_when(nc, 1))
    assert state[str(film)] == {
        **state[str(film)],
        "status": "skipped",
        "reason": "hard-linked: 2 links; replacing one keeps the old data alive through the others",
    }
    # The download client is done with it: the rescan reports one link, and the file is queued.
    seeding.unlink()
    await publish(js, scanned(film))
    (work,) = await pull_work(js, 1)
    assert work.path == str(film)
