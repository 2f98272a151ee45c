"""The recycle folder through a real encoder: on by default in a new installation, the original of a
transcode is kept (the job says where) and can be put back; turned off, nothing is kept. Real NATS, real
ffmpeg, real clips."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from librarrarian_contracts import JobCompleted, publish, topology
from librarrarian_contracts.topology import HwClass
from librarrarian_media import probe
from librarrarian_runtime import recycle
from librarrarian_testing import library, transcode
from nats.aio.client import Client
from nats.js import JetStreamContext

from .encoder_client import Scheduler, node_settings, outcome, running_encoder, work

CPU = topology.transcode_subject(HwClass.CPU)


@pytest.fixture
async def root(bus: tuple[Client, JetStreamContext], nats_url: str, tmp_path: Path) -> AsyncIterator[Path]:
    root = (tmp_path / "media").resolve()
    (root / "Movies").mkdir(parents=True)
    async with running_encoder(node_settings(nats_url, root, "node-recycle", grace_seconds=5)):
        yield root


async def test_a_new_installation_keeps_the_original_and_it_comes_back(
    bus: tuple[Client, JetStreamContext], scheduler: Scheduler, root: Path, shared_media: Path
) -> None:
    await transcode.put(bus[1], transcode.fastest())  # recycle not chosen: on, the installation is new
    film = root / "Movies" / "Bikes.mp4"
    shutil.copyfile(shared_media / "bikes.mp4", film)
    digest = library.sha256(film)
    await publish(bus[1], work(film), CPU)
    done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted), getattr(done, "reason", done)
    assert done.recycled is not None and Path(done.recycled).parent == root / recycle.FOLDER
    assert library.sha256(Path(done.recycled)) == digest and probe(film).video_codec == "hevc"
    assert recycle.held((root,)) == os.stat(done.recycled).st_size
    assert sorted(p.name for p in film.parent.iterdir()) == ["Bikes.mp4"]

    recycle.restore(root, recycle.find((root,), 1).name)
    assert library.sha256(film) == digest
    assert list((root / recycle.FOLDER).iterdir()) == []


async def test_turned_off_nothing_is_kept(
    bus: tuple[Client, JetStreamContext], scheduler: Scheduler, root: Path, shared_media: Path
) -> None:
    await transcode.put(bus[1], transcode.fastest(recycle=False))
    film = root / "Movies" / "Bikes.mp4"
    shutil.copyfile(shared_media / "bikes.mp4", film)
    await publish(bus[1], work(film), CPU)
    done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted) and done.recycled is None
    assert not (root / recycle.FOLDER).exists()
