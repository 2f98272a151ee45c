"""kill -9 an encoder in the middle of an encode: the original survives untouched, no ffmpeg is left
running, and the job is redelivered to another node, which removes the partial output the first attempt
left and completes the job."""

from __future__ import annotations

import signal
from pathlib import Path

from librarrarian_contracts import JobCompleted, JobStarted, publish, topology
from librarrarian_contracts.topology import HwClass
from librarrarian_testing import WORK_ACK_WAIT_SECONDS, eventually, library, transcode
from nats.aio.client import Client
from nats.js import JetStreamContext

from .encoder_client import (
    Scheduler,
    encoder_environment,
    encoder_process,
    encoding_ffmpeg,
    node_settings,
    running_encoder,
    work,
)


async def test_kill_9_mid_encode(
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    nats_url: str,
    tmp_path: Path,
    media: library.Library,
) -> None:
    _, js = bus
    source = media.transcode["mp4"]
    digest = library.sha256(source)

    await transcode.put(js, transcode.fastest(x265_preset="slow"))  # slow enough to be killed mid-encode
    env = encoder_environment(nats_url, media.root, "doomed")
    doomed = await encoder_process(env)
    try:
        await publish(js, work(source), topology.transcode_subject(HwClass.CPU))
        await eventually(
            lambda: scheduler.progress and scheduler.progress[-1].percent > 0, timeout=120, message="encoding"
        )
        assert encoding_ffmpeg(source), "ffmpeg should be running"
        doomed.send_signal(signal.SIGKILL)
        await doomed.wait()
    finally:
        if doomed.returncode is None:
            doomed.kill()
            await doomed.wait()

    # ffmpeg died with its encoder; the original is untouched; what is left is its partial output.
    await eventually(lambda: not encoding_ffmpeg(source), timeout=10, message="ffmpeg gone")
    assert library.sha256(source) == digest
    partial = temporary_files(source)
    assert len(partial) == 1
    assert not scheduler.requests

    # Another node gets the job once the dead one's lease (AckWait) runs out, and completes it.
    await transcode.put(js, transcode.fastest())
    async with running_encoder(node_settings(nats_url, media.root, "survivor")):
        done = await eventually(
            lambda: scheduler.of(JobCompleted),
            timeout=WORK_ACK_WAIT_SECONDS + 90,
            message="redelivered and completed",
        )
    assert done[0].node == "survivor"
    starts = scheduler.of(JobStarted)
    assert [(s.node, s.delivery) for s in starts] == [("doomed", 1), ("survivor", 2)]
    assert [(g.node, g.delivery) for g in scheduler.requests] == [("survivor", 2)]
    assert library.sha256(source) != digest  # replaced once, by the verified output
    # The retry removed the first attempt's partial output: nothing is left beside the original.
    assert temporary_files(source) == []


def temporary_files(source: Path) -> list[Path]:
    return [p for p in source.parent.iterdir() if p.name.startswith(".tmp_librarrarian-")]
