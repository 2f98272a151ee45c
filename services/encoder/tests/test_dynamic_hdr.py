"""Dolby Vision and HDR10+ through a real encode: a profile 8.1 source keeps its HDR10 base layer, correctly
signalled, and its Dolby Vision (RPUs and configuration record) where the encoder writes it; HDR10+ is
dropped, and the job says so. The clips are made at test time (``librarrarian_testing.hdr``); the encoder's
ffmpeg is the one it chooses, which here is the bundled build (FFmpeg 9, ``-dolbyvision``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from librarrarian_contracts import JobCompleted, MediaProbe, StreamInfo, publish, topology
from librarrarian_contracts.topology import HwClass
from librarrarian_encoder import binaries, dynamic_hdr
from librarrarian_encoder.profiles import profile_for
from librarrarian_encoder.settings import Settings
from librarrarian_media import probe
from librarrarian_testing import transcode
from librarrarian_testing.capable import ffmpeg_for
from librarrarian_testing.hdr import dolby_vision_clip, hdr10_plus_clip
from nats.aio.client import Client
from nats.js import JetStreamContext

from .encoder_client import Scheduler, node_settings, outcome, running_encoder, work
from .test_transcoding import hdr10_of

CPU = topology.transcode_subject(HwClass.CPU)


@pytest.fixture
async def node(
    bus: tuple[Client, JetStreamContext], nats_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Settings, Path]]:
    root = tmp_path / "media"
    root.mkdir()
    await transcode.put(bus[1], transcode.fastest(max_output_percent=1000, reencode_hevc=True))
    settings = node_settings(nats_url, root, "node-dv", grace_seconds=5)
    async with running_encoder(settings):
        yield settings, root


@pytest.mark.parametrize(("codec", "name"), [("hevc", "film.mkv"), ("hevc", "film.mp4"), ("av1", "film.mkv")])
async def test_dolby_vision_profile_8_keeps_hdr10_and_its_dolby_vision(
    codec: str,
    name: str,
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    node: tuple[Settings, Path],
) -> None:
    _, root = node
    ffmpeg_for(
        "cpu", binaries.need_of(HwClass.CPU)
    )  # a candidate writes Dolby Vision: the encoder must use it
    source = dolby_vision_clip(root / name, 8)
    before, stream = hdr10_of(source), probe(source).streams[0]
    assert (stream.dv_profile, stream.dv_compatibility, before["cll"]) == (8, 1, (1000, 400))
    await publish(bus[1], msgspec.structs.replace(work(source), target_codec=codec), CPU)
    done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted), getattr(done, "reason", done)
    assert done.notes == ()
    after = hdr10_of(source)
    assert after["codec"] in ({"hevc"} if codec == "hevc" else {"libdav1d", "av1"})
    for key in ("pix_fmt", "transfer", "primaries", "cll", "mastering"):  # BT.2020, PQ, mastering display
        assert after[key] == before[key], key
    kept = probe(source).streams[0]
    # HEVC stays profile 8.1; an AV1 output is its AV1 counterpart, profile 10.1 (HDR10 base layer).
    assert (kept.dv_profile, kept.dv_compatibility) == (8 if codec == "hevc" else 10, 1)


async def test_hdr10_plus_is_dropped_and_the_job_says_so(
    bus: tuple[Client, JetStreamContext], scheduler: Scheduler, node: tuple[Settings, Path]
) -> None:
    _, root = node
    source = hdr10_plus_clip(root / "plus.mkv")
    before = hdr10_of(source)
    await publish(bus[1], work(source), CPU)
    done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted), getattr(done, "reason", done)
    assert done.notes == (dynamic_hdr.HDR10_PLUS_DROPPED,)
    after = hdr10_of(source)
    for key in ("transfer", "primaries", "cll", "mastering"):
        assert after[key] == before[key], key


def _dolby_vision(profile: int, compatibility: int) -> MediaProbe:
    video = StreamInfo(
        index=0, kind="video", codec="hevc", dv_profile=profile, dv_compatibility=compatibility
    )
    return MediaProbe(container="matroska", duration=1.0, video_codec="hevc", streams=(video,))


def test_what_each_encoder_keeps_of_dolby_vision_and_what_it_says_it_dropped() -> None:
    x265, nvenc = profile_for("cpu", "hevc"), profile_for("nvenc", "hevc")
    assert x265 is not None and nvenc is not None
    assert dynamic_hdr.plan(_dolby_vision(8, 1), x265, writes_dolby_vision=True).dolby_vision
    cases = {
        "Dolby Vision profile 8 dropped (hevc_nvenc cannot write it); the HDR10 layer is kept": (
            _dolby_vision(8, 1),
            nvenc,
            True,
        ),
        "Dolby Vision profile 8 dropped (this node's ffmpeg cannot write it with libx265 (FFmpeg 7 or later "
        "can)); the HLG layer is kept": (_dolby_vision(8, 4), x265, False),
        "Dolby Vision profile 7 dropped (its enhancement layer cannot be re-encoded); the HDR10 layer is kept": (
            _dolby_vision(7, 6),
            x265,
            True,
        ),
    }
    for said, (source, profile, writes) in cases.items():
        assert dynamic_hdr.plan(source, profile, writes) == dynamic_hdr.DynamicHdr(notes=(said,))
    plain = MediaProbe(container="matroska", duration=1.0, video_codec="h264")
    assert dynamic_hdr.plan(plain, x265, True) == dynamic_hdr.DynamicHdr()
