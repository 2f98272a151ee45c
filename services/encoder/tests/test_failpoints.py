"""kill -9 at the worst moments of a replace: while verifying, between the commit and the rename, and between
the new file appearing and the old one going (a container change). Each time the user's file survives, the job
is redelivered to another node, and it ends with exactly one verified output in place."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import av
import msgspec
import pytest
from librarrarian_contracts import JobCompleted, JobReport, JobStarted, publish, topology
from librarrarian_contracts.codec import job_decoder
from librarrarian_contracts.topology import HwClass
from librarrarian_contracts.views import CommitDecision, CommitRequest
from librarrarian_encoder import failpoints, service
from librarrarian_encoder.settings import Settings
from librarrarian_testing import eventually, library, transcode
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from .test_encoder import work


@pytest.fixture
async def watched(
    bus: tuple[Client, JetStreamContext],
) -> AsyncIterator[tuple[list[CommitRequest], list[JobReport]]]:
    nc, js = bus
    grants: list[CommitRequest] = []
    events: list[JobReport] = []

    async def on_commit(msg: Msg) -> None:
        grants.append(msgspec.json.decode(msg.data, type=CommitRequest))
        await msg.respond(msgspec.json.encode(CommitDecision(granted=True)))

    async def on_event(msg: Msg) -> None:
        events.append(job_decoder.decode(msg.data))

    subs = [
        await nc.subscribe(topology.SCHEDULER_COMMIT, cb=on_commit),
        await js.subscribe("job.>", ordered_consumer=True, cb=on_event),
    ]
    yield grants, events
    for sub in subs:
        await sub.unsubscribe()


@pytest.mark.parametrize(
    ("point", "clip"),
    [("verifying", "avi"), ("after-commit", "mp4"), ("after-commit", "avi"), ("after-rename", "avi")],
)
async def test_a_kill_at_the_worst_moment_loses_nothing(
    point: str,
    clip: str,
    bus: tuple[Client, JetStreamContext],
    watched: tuple[list[CommitRequest], list[JobReport]],
    nats_url: str,
    tmp_path: Path,
    shared_media: Path,
) -> None:
    _, js = bus
    grants, events = watched
    media = library.build(tmp_path / "media", shared_media)
    source = media.transcode[clip]
    final = source.with_suffix(".mkv") if clip == "avi" else source
    digest = library.sha256(source)
    env = {
        **os.environ,
        "NATS_URL": nats_url,
        "MEDIA_PATHS": str(media.root.resolve()),
        "NODE_NAME": "doomed",
        "SCRATCH_DIR": str(tmp_path / "s1"),
        failpoints.VARIABLE: point,
    }
    await transcode.put(js, transcode.fastest())
    doomed = await asyncio.create_subprocess_exec(sys.executable, "-m", "librarrarian_encoder", env=env)
    await publish(js, work(source), topology.transcode_subject(HwClass.CPU))
    assert await asyncio.wait_for(doomed.wait(), 120) == -9

    # The moment after the kill: the original is there, untouched; after the rename, the output too.
    assert source.exists() and library.sha256(source) == digest
    if point == "after-rename":
        assert final.exists() and final != source
    elif clip == "avi":
        assert not final.exists()

    settings = Settings(
        nats_url=nats_url,
        media_paths=(media.root.resolve(),),
        node="survivor",
        scratch_dir=tmp_path / "s2",
    )
    stopping = asyncio.Event()
    survivor = asyncio.create_task(service.run(settings, stopping))
    try:
        done = await eventually(
            lambda: [e for e in events if isinstance(e, JobCompleted)],
            timeout=topology.WORK_ACK_WAIT_SECONDS + 90,
            message="completed elsewhere",
        )
    finally:
        stopping.set()
        await asyncio.wait_for(survivor, 30)

    assert len(done) == 1 and done[0].node == "survivor" and done[0].output_path == str(final.resolve())
    with av.open(str(final)) as container:
        assert container.streams.video[0].codec_context.name == "hevc"
    assert source.exists() == (clip != "avi")
    granted = [(g.node, g.delivery) for g in grants]
    assert granted[-1] == ("survivor", 2)
    starts = [s.node for s in events if isinstance(s, JobStarted)]
    # After the rename the output was already verified and in place: the survivor finishes, it does not encode again.
    assert starts == (["doomed"] if point == "after-rename" else ["doomed", "survivor"])
