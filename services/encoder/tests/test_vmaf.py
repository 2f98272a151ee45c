"""VMAF with the real ffmpeg on real clips: an output scores high against its original, a crushed one
lower, the original against itself near 100; an ffmpeg without libvmaf gives no score rather than a
failure; and a real encoder reports the score with the job when the setting asks for it, also when the
system ffmpeg first on PATH has no libvmaf (the bundled build measures)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from librarrarian_contracts import JobCompleted, publish, topology
from librarrarian_contracts.topology import HwClass
from librarrarian_encoder import vmaf
from librarrarian_media.ffmpeg_choice import Need
from librarrarian_testing import library, transcode
from librarrarian_testing.capable import ffmpeg_for
from nats.aio.client import Client
from nats.js import JetStreamContext

from .encoder_client import Scheduler, node_settings, outcome, running_encoder, work

# The graph's filters, and libx265 for the outputs these tests measure.
NEED = Need.of(encoders=("libx265",), filters=vmaf.NEED.filters)


def encode(ffmpeg: str, source: Path, out: Path, crf: int) -> Path:
    subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(source), "-c:v", "libx265", "-preset", "ultrafast", "-crf", str(crf),
         "-x265-params", "log-level=error", "-an", str(out)],
        check=True,
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def ffmpeg() -> str:
    return ffmpeg_for("vmaf", NEED)


def test_scores_follow_the_quality(ffmpeg: str, shared_media: Path, tmp_path: Path) -> None:
    source = shared_media / "bikes.mp4"  # 10 s: three sampled segments
    good = vmaf.measure(ffmpeg, source, encode(ffmpeg, source, tmp_path / "good.mkv", 22), 10.0)
    crushed = vmaf.measure(ffmpeg, source, encode(ffmpeg, source, tmp_path / "bad.mkv", 51), 10.0)
    same = vmaf.measure(ffmpeg, source, source, 10.0)
    assert good is not None and crushed is not None and same is not None
    assert same > 97 and 70 < good <= 100 and crushed < good - 10


def test_a_short_clip_is_compared_whole(ffmpeg: str, shared_media: Path, tmp_path: Path) -> None:
    source = shared_media / "bigbuckbunny.mp4"  # 5.3 s
    assert vmaf.starts(5.3) == [None] and vmaf.starts(None) == [None]
    assert vmaf.starts(100.0) == [4.9, 49.0, 88.2]
    score = vmaf.measure(ffmpeg, source, encode(ffmpeg, source, tmp_path / "out.mkv", 24), 5.3)
    assert score is not None and 60 < score <= 100


def test_no_libvmaf_means_no_score(tmp_path: Path) -> None:
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\necho ' ... scale            V->V       Scale the input video size'\n")
    fake.chmod(0o755)
    assert not vmaf.available(str(fake))
    assert vmaf.measure(str(fake), tmp_path / "a.mkv", tmp_path / "b.mkv", 10.0) is None


def test_an_unreadable_output_gives_no_score(ffmpeg: str, shared_media: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mkv"
    broken.write_bytes(b"not a video")
    assert vmaf.measure(ffmpeg, shared_media / "bikes.mp4", broken, 10.0) is None


async def test_the_encoder_reports_the_score_when_asked(
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    nats_url: str,
    media: library.Library,
    tmp_path: Path,
) -> None:
    _, js = bus
    ffmpeg_for("vmaf", vmaf.NEED)  # some candidate has libvmaf: the encoder must find it
    await transcode.put(js, transcode.fastest(measure_vmaf=True))  # before the node starts: no race
    async with running_encoder(node_settings(nats_url, media.root, "node-a")):
        await publish(js, work(media.transcode["mp4"], job_id=2), topology.transcode_subject(HwClass.CPU))
        measured = await outcome(scheduler, 2)
    assert isinstance(measured, JobCompleted) and measured.vmaf is not None and 50 < measured.vmaf <= 100
