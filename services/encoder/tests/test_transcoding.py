"""What comes out: AV1, HDR10 kept, odd inputs, hardware detection and the fall back to the CPU.

Real NATS, real ffmpeg, chosen per purpose as the encoder chooses it (the bundled imageio-ffmpeg build has
SVT-AV1 and the hardware encoders, but this machine has no GPU: the hardware classes fail their test encodes
for real). With Debian's ffmpeg first on PATH these pass the same: HDR10 and the rotated clip need a build
that has what 5.1 lacks, and the choice finds it.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from pathlib import Path

import av
import msgspec
import pytest
from librarrarian_contracts import JobCompleted, publish, topology
from librarrarian_contracts.topology import HwClass
from librarrarian_encoder import binaries
from librarrarian_encoder.settings import Settings
from librarrarian_media.ffmpeg_builds import candidates, capabilities
from librarrarian_media.ffmpeg_choice import Need
from librarrarian_testing import library, transcode
from librarrarian_testing.capable import ffmpeg_for
from librarrarian_testing.clips import ffmpeg
from nats.aio.client import Client
from nats.js import JetStreamContext

from .encoder_client import Scheduler, node_settings, node_status, outcome, running_encoder, work

HDR10_PARAMS = (
    "log-level=error:hdr10=1:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc"
    ":master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1):max-cll=1000,400"
)


@pytest.fixture
async def node(
    bus: tuple[Client, JetStreamContext], nats_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Settings, Path]]:
    """An encoder on ``tmp_path/media`` (files are made there by each test)."""
    root = tmp_path / "media"
    root.mkdir()
    # Synthetic clips compress so well that a re-encode may be larger; these tests are about what is kept.
    await transcode.put(bus[1], transcode.fastest(max_output_percent=1000))
    settings = node_settings(nats_url, root, "node-t", grace_seconds=5)
    async with running_encoder(settings):
        yield settings, root


def hdr10_clip(path: Path) -> Path:
    """A synthetic HDR10 clip: 10-bit BT.2020 PQ with mastering display and content light level."""
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1",
        "-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-x265-params", HDR10_PARAMS, path,
    )  # fmt: skip
    return path


def hdr10_of(path: Path) -> dict[str, object]:
    """The first frame's HDR10 description, in units (cd/m², chromaticity) independent of the codec."""
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        found: dict[str, object] = {
            "pix_fmt": frame.format.name,
            "transfer": int(frame.color_trc),
            "primaries": int(frame.color_primaries),
            "codec": container.streams.video[0].codec_context.codec.name,
        }
        for data in frame.side_data:
            if data.type.name == "CONTENT_LIGHT_LEVEL":
                found["cll"] = struct.unpack("II", bytes(data))
            if data.type.name == "MASTERING_DISPLAY_METADATA":
                values = struct.unpack("22i", bytes(data))
                ratios = [values[i] / values[i + 1] for i in range(0, 20, 2)]
                found["mastering"] = [round(r, 3) for r in ratios]
    return found


async def test_detection_reports_what_works_here_and_why_the_rest_does_not(
    bus: tuple[Client, JetStreamContext], node: tuple[Settings, Path]
) -> None:
    status = await node_status(bus[1], "node-t")
    assert status.classes == ("cpu",)
    assert status.codecs == {"cpu": ("hevc", "av1")}
    assert "libcuda" in status.unusable["nvenc"]  # the real reason, not "no packets written"
    assert set(status.unusable) == {"nvenc", "qsv", "vaapi", "videotoolbox"}
    # The node card says which ffmpeg does what, and why: the chooser's choice, so (the bundled build being a
    # candidate) one that keeps HDR10 encodes and one with libvmaf measures, whatever ffmpeg is first on PATH.
    uses = {use.purpose: use for use in status.ffmpeg}
    assert list(uses) == ["cpu", "vmaf"]
    assert all(use.version and use.origin and use.why for use in uses.values())
    chosen = binaries.chosen(candidates())
    assert (uses["cpu"].path, uses["vmaf"].path) == (chosen.for_class(HwClass.CPU), chosen.vmaf)
    if any(build.origin == "bundled" for build in chosen.builds):  # not with an FFMPEG_PATH of its own
        assert capabilities(uses["cpu"].path).hdr10 == {"libx265", "libsvtav1"}
        assert "libvmaf" in capabilities(uses["vmaf"].path).filters


@pytest.mark.parametrize("codec", ["hevc", "av1"])
async def test_hdr10_metadata_survives_the_encode(
    codec: str, bus: tuple[Client, JetStreamContext], scheduler: Scheduler, node: tuple[Settings, Path]
) -> None:
    _, root = node
    ffmpeg_for("cpu", binaries.need_of(HwClass.CPU))  # some candidate keeps HDR10: the encoder must use it
    source = hdr10_clip(root / "hdr.mkv")
    before = hdr10_of(source)
    assert before["cll"] == (1000, 400) and before["pix_fmt"] == "yuv420p10le"
    await publish(
        bus[1], msgspec.structs.replace(work(source), target_codec=codec), topology.transcode_subject("cpu")
    )
    done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted), getattr(done, "reason", done)
    after = hdr10_of(source)
    assert after["codec"] in ({"hevc"} if codec == "hevc" else {"libdav1d", "av1"})
    for key in ("pix_fmt", "transfer", "primaries", "cll", "mastering"):
        assert after[key] == before[key], key


async def test_av1_is_encoded_with_svt_av1(
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    node: tuple[Settings, Path],
    shared_media: Path,
) -> None:
    _, root = node
    source = library.build(root / "lib", shared_media).transcode["mp4"]
    await publish(
        bus[1], msgspec.structs.replace(work(source), target_codec="av1"), topology.transcode_subject("cpu")
    )
    done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted), getattr(done, "reason", done)
    assert (done.encoder, done.codec_after, done.fallback_reason) == ("libsvtav1", "av1", None)


ODD_INPUTS = {
    # 4:2:0 cannot have odd dimensions: one row and one column are cropped instead of failing.
    "odd.mkv": ("-f", "lavfi", "-i", "testsrc2=size=321x241:rate=25:duration=1", "-c:v", "libx264", "-pix_fmt", "yuv444p"),
    # A phone video: landscape pixels with a 90° display matrix.
    "rotated.mp4": ("-display_rotation", "90", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1", "-c:v", "libx264"),
    # Variable frame rate: frames at irregular times.
    "vfr.mkv": ("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2", "-vf", "select='not(mod(n,3))+lt(n,10)'", "-fps_mode", "vfr", "-c:v", "libx264"),
    # No timestamps at all: a raw H.264 elementary stream.
    "raw.h264": ("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1", "-c:v", "libx264", "-f", "h264"),
    # An iTunes video: MP4 named .m4v, kept as such (written by the MP4 muxer: the ipod one holds no HEVC).
    "itunes.m4v": ("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1", "-c:v", "libx264"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(ODD_INPUTS))
async def test_odd_inputs_are_handled(
    name: str, bus: tuple[Client, JetStreamContext], scheduler: Scheduler, node: tuple[Settings, Path]
) -> None:
    _, root = node
    source = root / name
    if name == "rotated.mp4":
        ffmpeg_for("clips", Need.of(options=("display_rotation",)))
    ffmpeg(*ODD_INPUTS[name], source)
    with av.open(str(source)) as c:
        frames_before = sum(1 for _ in c.decode(video=0))
    await publish(bus[1], work(source), topology.transcode_subject("cpu"))
    done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted), getattr(done, "reason", done)
    output = Path(done.output_path)
    with av.open(str(output)) as c:
        stream = c.streams.video[0]
        frames = list(c.decode(video=0))
        size = (stream.codec_context.width, stream.codec_context.height)
    assert stream.codec_context.name == "hevc"
    assert len(frames) == frames_before  # no frame dropped or duplicated (VFR stays VFR)
    if name == "odd.mkv":
        assert size == (320, 240)
    if name == "rotated.mp4":
        assert size == (240, 320)  # turned upright; players see what they saw before


async def test_a_failing_hardware_encode_falls_back_to_the_cpu_with_the_reason(
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    nats_url: str,
    tmp_path: Path,
    media: library.Library,
) -> None:
    """HW_CLASSES binds NVENC without its test encode; the real hevc_nvenc then fails (no GPU here)."""
    await transcode.put(bus[1], transcode.fastest())
    settings = node_settings(nats_url, media.root, "node-gpu", hw_classes=(HwClass.NVENC, HwClass.CPU))
    async with running_encoder(settings):
        source = media.transcode["mp4"]
        await publish(
            bus[1],
            msgspec.structs.replace(work(source), hw_class="nvenc"),
            topology.transcode_subject("nvenc"),
        )
        done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted), getattr(done, "reason", done)
    assert done.encoder == "libx265" and done.codec_after == "hevc"
    assert done.fallback_reason is not None
    assert done.fallback_reason.startswith("hevc_nvenc failed: ") and "libcuda" in done.fallback_reason


async def test_mp4_text_subtitles_survive_the_switch_to_matroska(
    bus: tuple[Client, JetStreamContext], scheduler: Scheduler, node: tuple[Settings, Path]
) -> None:
    """With ``container: mkv`` an MP4 becomes MKV; its mov_text subtitles cannot be copied there as they are."""
    _, root = node
    await transcode.put(bus[1], transcode.fastest(max_output_percent=1000, container="mkv"))
    srt = root / "subs.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:00,900\nHello\n")
    source = root / "subbed.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1", "-i", srt,
        "-map", "0:v", "-map", "1:s", "-c:v", "libx264", "-c:s", "mov_text", source,
    )  # fmt: skip
    srt.unlink()
    await publish(bus[1], work(source), topology.transcode_subject("cpu"))
    done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted), getattr(done, "reason", done)
    output = Path(done.output_path)
    assert output.suffix == ".mkv" and not source.exists()
    with av.open(str(output)) as c:
        (subtitle,) = c.streams.subtitles
        assert subtitle.codec_context.name in {"subrip", "srt"}  # SubRip text, as PyAV names its decoder
