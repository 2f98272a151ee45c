"""kill -9 an encoder in the middle of an encode: the original survives untouched, no ffmpeg is left
running, and the job is redelivered to another node, which completes it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from librarrarian_contracts import JobCompleted, JobStarted, publish, topology
from librarrarian_contracts.codec import job_decoder
from librarrarian_contracts.topology import HwClass
from librarrarian_contracts.views import CommitDecision, CommitRequest, JobProgress
from librarrarian_encoder import service
from librarrarian_encoder.settings import Settings
from librarrarian_testing import eventually, library, transcode
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from .test_encoder import work


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.fixture
async def grants(bus: tuple[Client, JetStreamContext]) -> AsyncIterator[list[CommitRequest]]:
    nc, _ = bus
    granted: list[CommitRequest] = []

    async def on_commit(msg: Msg) -> None:
        granted.append(msgspec.json.decode(msg.data, type=CommitRequest))
        await msg.respond(msgspec.json.encode(CommitDecision(granted=True)))

    sub = await nc.subscribe(topology.SCHEDULER_COMMIT, cb=on_commit)
    yield granted
    await sub.unsubscribe()


async def test_kill_9_mid_encode(
    bus: tuple[Client, JetStreamContext],
    grants: list[CommitRequest],
    nats_url: str,
    tmp_path: Path,
    shared_media: Path,
) -> None:
    nc, js = bus
    media = library.build(tmp_path / "media", shared_media)
    source = media.transcode["mp4"]
    digest = library.sha256(source)
    progress: list[JobProgress] = []
    events = []

    async def on_progress(msg: Msg) -> None:
        if msg.data:
            progress.append(msgspec.json.decode(msg.data, type=JobProgress))

    async def on_event(msg: Msg) -> None:
        events.append(job_decoder.decode(msg.data))

    await nc.subscribe(f"$KV.{topology.PROGRESS.name}.>", cb=on_progress)
    await js.subscribe("job.>", ordered_consumer=True, cb=on_event)

    env = {
        **os.environ,
        "NATS_URL": nats_url,
        "MEDIA_PATHS": str(media.root.resolve()),
        "NODE_NAME": "doomed",
        "SCRATCH_DIR": str(tmp_path / "scratch"),
    }
    await transcode.put(js, transcode.fastest(x265_preset="slow"))  # slow enough to be killed mid-encode
    doomed = await asyncio.create_subprocess_exec(sys.executable, "-m", "librarrarian_encoder", env=env)
    try:
        await publish(js, work(source), topology.transcode_subject(HwClass.CPU))
        await eventually(lambda: progress and progress[-1].percent > 0, timeout=120, message="encoding")
        ffmpegs = processes_mentioning(".tmp_librarrarian-1-1-1-")
        assert ffmpegs, "ffmpeg should be running"
        doomed.send_signal(signal.SIGKILL)
        await doomed.wait()
    finally:
        if doomed.returncode is None:
            doomed.kill()
            await doomed.wait()

    # ffmpeg died with its encoder; the original is untouched; what is left is a dotted temp file.
    await eventually(
        lambda: not processes_mentioning(".tmp_librarrarian-1-1-1-"), timeout=10, message="ffmpeg gone"
    )
    assert library.sha256(source) == digest
    assert all(
        p.name.startswith(".tmp_librarrarian-") for p in source.parent.iterdir() if p.name.startswith(".")
    )
    assert not grants

    # Another node gets the job once the dead one's lease (AckWait) runs out, and completes it.
    settings = Settings(
        nats_url=nats_url,
        media_paths=(media.root.resolve(),),
        node="survivor",
        scratch_dir=tmp_path / "scratch2",
    )
    await transcode.put(js, transcode.fastest())
    stopping = asyncio.Event()
    survivor = asyncio.create_task(service.run(settings, stopping))
    try:
        done = await eventually(
            lambda: [e for e in events if isinstance(e, JobCompleted)],
            timeout=topology.WORK_ACK_WAIT_SECONDS + 90,
            message="redelivered and completed",
        )
    finally:
        stopping.set()
        await asyncio.wait_for(survivor, 30)
    assert done[0].node == "survivor"
    starts = [e for e in events if isinstance(e, JobStarted)]
    assert [(s.node, s.delivery) for s in starts] == [("doomed", 1), ("survivor", 2)]
    assert [(g.node, g.delivery) for g in grants] == [("survivor", 2)]
    assert library.sha256(source) != digest  # replaced once, by the verified output
