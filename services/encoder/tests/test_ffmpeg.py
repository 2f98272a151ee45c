"""The argv builder and the progress parser, without a cluster (the parser on real ffmpeg output)."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import msgspec
import pytest
from librarrarian_contracts import MediaProbe, StreamInfo
from librarrarian_contracts.settings import Quality
from librarrarian_contracts.topology import HwClass
from librarrarian_encoder import binaries, ffmpeg
from librarrarian_encoder.profiles import PROFILES, profile_for
from librarrarian_media.ffmpeg_builds import candidates

Q = Quality(preset="slow", level=20)
X265 = PROFILES[(HwClass.CPU, "hevc")]


def probe(*kinds: tuple[str, bool]) -> MediaProbe:
    streams = tuple(
        StreamInfo(index=i, kind=k, codec="x", attached_pic=pic) for i, (k, pic) in enumerate(kinds)
    )
    return MediaProbe(container="x", duration=10.0, video_codec="h264", streams=streams)


def pairs(argv: list[str]) -> list[tuple[str, str]]:
    return list(itertools.pairwise(argv))


def test_every_stream_is_mapped_and_copied_and_only_real_video_is_encoded() -> None:
    p = probe(
        ("video", False), ("audio", False), ("audio", False), ("subtitle", False), ("attachment", False)
    )
    argv = ffmpeg.build_argv("ffmpeg", Path("/m/a.mkv"), Path("/m/.tmp_a.mkv"), p, X265, Q)
    maps = [b for a, b in pairs(argv) if a == "-map"]
    assert maps == ["0:v?", "0:a?", "0:s?", "0:t?"]
    assert (
        ("-c:a", "copy") in pairs(argv)
        and ("-c:s", "copy") in pairs(argv)
        and ("-c:t", "copy") in pairs(argv)
    )
    assert "-c" not in argv  # one codec option per stream: ffmpeg warns about overridden ones
    assert ("-map_chapters", "0") in pairs(argv)
    assert ("-c:v:0", "libx265") in pairs(argv)
    assert ("-preset:v:0", "slow") in pairs(argv) and ("-crf:v:0", "20") in pairs(argv)
    assert "-tag:v:0" not in argv  # only MP4-family outputs need the hvc1 tag
    assert argv[-1] == "/m/.tmp_a.mkv" and ("-progress", "pipe:1") in pairs(argv)


def test_cover_art_is_copied_and_mp4_gets_the_apple_tag_without_attachments() -> None:
    p = probe(("video", False), ("audio", False), ("video", True))
    argv = ffmpeg.build_argv("ffmpeg", Path("/m/a.mp4"), Path("/m/.tmp_a.mp4"), p, X265, Q)
    assert ("-c:v:0", "libx265") in pairs(argv) and ("-c:v:1", "copy") in pairs(argv)
    assert ("-tag:v:0", "hvc1") in pairs(argv)
    assert "0:t?" not in argv


def test_the_output_is_muxed_as_named_and_the_source_read_only_as_the_scanner_found_it() -> None:
    """Through descriptors neither name has an extension: the muxer and the demuxer are named."""
    p = msgspec.structs.replace(probe(("video", False)), container="mov,mp4,m4a,3gp,3g2,mj2")
    for suffix, muxer in ((".mkv", "matroska"), (".mp4", "mp4"), (".m4v", "mp4"), (".mov", "mov")):
        argv = ffmpeg.build_argv("ffmpeg", Path("/proc/self/fd/5"), Path("/proc/self/fd/6"), p, X265, Q,
                                 suffix=suffix)  # fmt: skip
        assert argv[-3:] == ["-f", muxer, "/proc/self/fd/6"]
    before_input = argv[: argv.index("-i")]
    assert ("-protocol_whitelist", "file") in pairs(before_input) and ("-f", "mov") in pairs(before_input)
    assert "concat" not in dict(pairs(before_input))["-format_whitelist"].split(",")
    unknown = ffmpeg.build_argv(
        "ffmpeg", Path("/m/a.mkv"), Path("/m/.tmp_a.mkv"), probe(("video", False)), X265, Q
    )
    assert "-f" not in unknown[: unknown.index("-i")]  # a container we do not read is not named: refused


def test_the_container_setting_can_make_everything_matroska() -> None:
    assert ffmpeg.output_suffix(Path("a.mp4"), "mkv") == ".mkv"
    assert ffmpeg.output_suffix(Path("a.mkv"), "mkv") == ".mkv"


def test_odd_dimensions_are_cropped_to_even_and_timestamps_pass_through() -> None:
    streams = (StreamInfo(index=0, kind="video", codec="h264", width=321, height=241),)
    p = MediaProbe(container="x", duration=1.0, video_codec="h264", streams=streams)
    argv = ffmpeg.build_argv("ffmpeg", Path("/m/a.mkv"), Path("/m/.tmp_a.mkv"), p, X265, Q)
    assert ("-filter:v:0", "crop=trunc(iw/2)*2:trunc(ih/2)*2") in pairs(argv)
    assert ("-fps_mode", "passthrough") in pairs(argv) and ("-fflags", "+genpts") in pairs(argv)
    assert argv.index("-fflags") < argv.index("-i")


@pytest.mark.parametrize(
    ("hw", "codec", "expected"),
    [
        (HwClass.CPU, "hevc", [("-c:v:0", "libx265"), ("-crf:v:0", "20"), ("-pix_fmt:v:0", "yuv420p10le")]),
        (HwClass.CPU, "av1", [("-c:v:0", "libsvtav1"), ("-crf:v:0", "20"), ("-pix_fmt:v:0", "yuv420p10le")]),
        (HwClass.NVENC, "hevc", [("-c:v:0", "hevc_nvenc"), ("-cq:v:0", "20"), ("-pix_fmt:v:0", "p010le")]),
        (HwClass.NVENC, "av1", [("-c:v:0", "av1_nvenc"), ("-cq:v:0", "20")]),
        (HwClass.QSV, "hevc", [("-c:v:0", "hevc_qsv"), ("-global_quality:v:0", "20")]),
        (
            HwClass.VAAPI,
            "hevc",
            [("-c:v:0", "hevc_vaapi"), ("-qp:v:0", "20"), ("-filter:v:0", "format=p010|vaapi,hwupload")],
        ),
        (HwClass.VIDEOTOOLBOX, "hevc", [("-c:v:0", "hevc_videotoolbox"), ("-q:v:0", "20")]),
    ],
)
def test_each_class_uses_its_encoder_and_quality_scale_with_10_bit(
    hw: HwClass, codec: str, expected: list[tuple[str, str]]
) -> None:
    profile = profile_for(hw, codec)
    assert profile is not None
    p = probe(("video", False))
    argv = ffmpeg.build_argv(
        "ffmpeg", Path("/m/a.mkv"), Path("/m/.tmp_a.mkv"), p, profile, Quality(level=20, ten_bit=True)
    )
    for pair in expected:
        assert pair in pairs(argv), pair
    if hw is HwClass.VAAPI:
        assert argv.index("-vaapi_device") < argv.index("-i")


def test_videotoolbox_has_no_av1_and_av1_in_mp4_gets_no_hevc_tag() -> None:
    assert profile_for(HwClass.VIDEOTOOLBOX, "av1") is None
    svt = profile_for(HwClass.CPU, "av1")
    assert svt is not None
    argv = ffmpeg.build_argv(
        "ffmpeg", Path("/m/a.mp4"), Path("/m/.tmp_a.mp4"), probe(("video", False)), svt, Q
    )
    assert "hvc1" not in argv


def test_the_first_error_line_is_the_cause_without_log_contexts() -> None:
    stderr = (
        "[hevc_nvenc @ 0x5645a0af4500] Cannot load libcuda.so.1\n"
        "[vost#0:0/hevc_nvenc @ 0x5645a0af3f00] [enc:hevc_nvenc @ 0x5645a0af43c0] Error while opening encoder\n"
        "[out#0/null @ 0x5645a0af2380] Nothing was written into output file\n"
    )
    assert ffmpeg.first_error(stderr) == "Cannot load libcuda.so.1"
    assert ffmpeg.first_error("") == "no error message"


def test_containers_that_cannot_hold_hevc_become_matroska() -> None:
    assert ffmpeg.output_suffix(Path("a.avi")) == ".mkv"
    assert ffmpeg.output_suffix(Path("a.wmv")) == ".mkv"
    assert ffmpeg.output_suffix(Path("a.ts")) == ".mkv"
    assert ffmpeg.output_suffix(Path("a.MP4")) == ".MP4"
    assert ffmpeg.output_suffix(Path("a.mov")) == ".mov"


def test_the_parser_reads_real_progress_output(tmp_path: Path) -> None:
    binary = binaries.chosen(candidates()).for_class(HwClass.CPU)  # the encoder's libx265
    result = subprocess.run(
        [
            binary,
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=25:duration=3",
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-x265-params",
            "log-level=error",
            "-progress",
            "pipe:1",
            "-nostats",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    parser = ffmpeg.ProgressParser()
    blocks = [p for line in result.stdout.splitlines() if (p := parser.feed(line)) is not None]
    assert blocks, result.stdout
    assert blocks[-1].done and abs(blocks[-1].out_seconds - 3.0) < 0.1
    assert blocks[-1].percent(3.0) == 100.0
    assert all(b.out_seconds >= a.out_seconds for a, b in itertools.pairwise(blocks))


def test_the_parser_handles_missing_values_early_in_an_encode() -> None:
    parser = ffmpeg.ProgressParser()
    for line in ["frame=0", "fps=0.00", "out_time_us=N/A", "speed=N/A"]:
        assert parser.feed(line) is None
    first = parser.feed("progress=continue")
    assert first == ffmpeg.Progress(out_seconds=0.0, fps=0.0, speed=None, done=False)
    assert first.eta_seconds(10.0) is None
    for line in ["fps=50.0", "out_time_us=4000000", "speed=2.0x"]:
        parser.feed(line)
    later = parser.feed("progress=continue")
    assert later is not None
    assert later.percent(10.0) == 40.0 and later.eta_seconds(10.0) == 3.0
