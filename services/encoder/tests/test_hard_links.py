"""A file with other names (hard links: a download client seeding it, a second library): left alone unless
the setting allows replacing it, and then the job says how many links it replaced one of. Checked on the
opened original, so a link made since the scan counts (a link made during the encode: the hostile library's
test). Also: a Dolby Vision profile 5 file sent before the scheduler skipped them is not touched. Real NATS,
real ffmpeg, real clips."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from librarrarian_contracts import JobCompleted, JobSkipped, publish, topology
from librarrarian_contracts.topology import HwClass
from librarrarian_media import probe
from librarrarian_testing import library, transcode
from librarrarian_testing.hdr import dolby_vision_clip
from nats.aio.client import Client
from nats.js import JetStreamContext

from .encoder_client import Scheduler, node_settings, outcome, running_encoder, work

CPU = topology.transcode_subject(HwClass.CPU)
REASON = "hard-linked: 2 links; replacing one keeps the old data alive through the others"


@pytest.fixture
async def root(bus: tuple[Client, JetStreamContext], nats_url: str, tmp_path: Path) -> AsyncIterator[Path]:
    root = tmp_path / "media"
    (root / "Movies").mkdir(parents=True)
    (root / "Downloads").mkdir()
    async with running_encoder(node_settings(nats_url, root, "node-links", grace_seconds=5)):
        yield root


def seeded(root: Path, shared_media: Path) -> tuple[Path, Path]:
    """A film in the library and the same file, by a second name, in the download client's folder."""
    film = root / "Movies" / "Bikes.mp4"
    shutil.copyfile(shared_media / "bikes.mp4", film)
    os.link(film, root / "Downloads" / "Bikes.mp4")
    return film, root / "Downloads" / "Bikes.mp4"


async def test_a_hard_linked_file_is_left_alone_by_default(
    bus: tuple[Client, JetStreamContext], scheduler: Scheduler, root: Path, shared_media: Path
) -> None:
    await transcode.put(bus[1], transcode.fastest())
    film, seed = seeded(root, shared_media)
    digest = library.sha256(film)
    await publish(bus[1], work(film), CPU)
    skipped = await outcome(scheduler, 1)
    assert isinstance(skipped, JobSkipped) and skipped.reason == REASON
    assert library.sha256(film) == digest and os.stat(film).st_ino == os.stat(seed).st_ino
    assert sorted(p.name for p in film.parent.iterdir()) == ["Bikes.mp4"]  # no output was even made


async def test_when_allowed_one_link_is_replaced_and_the_job_says_so(
    bus: tuple[Client, JetStreamContext], scheduler: Scheduler, root: Path, shared_media: Path
) -> None:
    # Recycle folder off: its link would be a third name (the recycle folder's own test covers it on).
    await transcode.put(bus[1], transcode.fastest(replace_hard_links=True, recycle=False))
    film, seed = seeded(root, shared_media)
    digest = library.sha256(seed)
    await publish(bus[1], work(film), CPU)
    done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted), getattr(done, "reason", done)
    assert done.notes == ("replaced 1 of 2 links: the other names keep the old file (no space saved)",)
    assert probe(film).video_codec == "hevc"
    assert library.sha256(seed) == digest and os.stat(seed).st_nlink == 1  # the seeder's file as it was


async def test_dolby_vision_profile_5_sent_anyway_is_not_touched(
    bus: tuple[Client, JetStreamContext], scheduler: Scheduler, root: Path
) -> None:
    await transcode.put(bus[1], transcode.fastest())
    film = dolby_vision_clip(root / "Movies" / "Five.mkv", 5)
    digest = library.sha256(film)
    await publish(bus[1], work(film), CPU)
    skipped = await outcome(scheduler, 1)
    assert isinstance(skipped, JobSkipped) and skipped.reason.startswith("Dolby Vision profile 5:")
    assert library.sha256(film) == digest
