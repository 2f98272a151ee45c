"""The probe on real clips made by the real ffmpeg: what it reports of the picture without decoding a
frame, of files whose names do not say what they are, and of lists of other files posing as videos."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from librarrarian_media import ProbeError, probe
from librarrarian_media.pixel_format import from_configuration
from librarrarian_testing.clips import ffmpeg
from librarrarian_testing.outside import Outside

PATTERN = ("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=0.4")
X265 = ("-c:v", "libx265", "-x265-params", "log-level=error")
# name → (ffmpeg output options, the pixel format the clip's decoder reports)
CLIPS = {
    "hevc-10bit.mp4": ((*X265, "-pix_fmt", "yuv420p10le"), "yuv420p10le"),
    "hevc-8bit.mkv": ((*X265, "-pix_fmt", "yuv420p"), "yuv420p"),
    "hevc-444-12bit.mp4": ((*X265, "-pix_fmt", "yuv444p12le"), "yuv444p12le"),
    "hevc-gray-10bit.mp4": ((*X265, "-pix_fmt", "gray10le"), "gray10le"),
    "av1-10bit.mp4": (("-c:v", "libsvtav1", "-pix_fmt", "yuv420p10le"), "yuv420p10le"),
    "av1-8bit.mkv": (("-c:v", "libsvtav1", "-pix_fmt", "yuv420p"), "yuv420p"),
    "av1-422-10bit.mkv": (("-c:v", "libaom-av1", "-cpu-used", "8", "-pix_fmt", "yuv422p10le"), "yuv422p10le"),
    "h264.mp4": (("-c:v", "libx264", "-pix_fmt", "yuv420p"), "yuv420p"),
    "h264.avi": (("-c:v", "libx264", "-pix_fmt", "yuv420p"), "yuv420p"),
    # HDR10 as encoders write it: PQ in the stream's VUI, and from there in the MP4's colr box.
    "hevc-pq.mp4": (
        (
            *("-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-x265-params"),
            "log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc",
        ),
        "yuv420p10le",
    ),
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    made = {}
    for name, (options, _) in CLIPS.items():
        ffmpeg(*PATTERN, *options, folder / name)
        made[name] = folder / name
    return made


@pytest.mark.parametrize(
    ("name", "pix_fmt"),
    [
        ("hevc-10bit.mp4", "yuv420p10le"),
        ("hevc-8bit.mkv", "yuv420p"),
        ("av1-10bit.mp4", "yuv420p10le"),
        ("av1-8bit.mkv", "yuv420p"),
        ("hevc-pq.mp4", "yuv420p10le"),
        # Not a container whose header describes its streams: analysed in full, so the decoder says.
        ("h264.avi", "yuv420p"),
    ],
)
def test_the_pixel_format_of_a_video(clips: dict[str, Path], name: str, pix_fmt: str) -> None:
    (video,) = [s for s in probe(clips[name]).streams if s.kind == "video"]
    assert video.pix_fmt == pix_fmt


def test_h264_read_from_its_header_has_no_pixel_format_or_the_right_one(clips: dict[str, Path]) -> None:
    # No frame is decoded, and H.264's configuration record is not read for it.
    result = probe(clips["h264.mp4"])
    assert result.video_codec == "h264" and (result.width, result.height) == (160, 120)
    assert result.streams[0].pix_fmt in {None, "yuv420p"}


def test_an_hdr_source_keeps_its_transfer(clips: dict[str, Path]) -> None:
    (video,) = probe(clips["hevc-pq.mp4"]).streams
    assert (video.codec, video.color_transfer) == ("hevc", "smpte2084")
    assert probe(clips["hevc-10bit.mp4"]).streams[0].color_transfer is None


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_the_configuration_record_says_what_the_decoder_says(clips: dict[str, Path], name: str) -> None:
    """The record of every HEVC and AV1 clip gives the pixel format its decoder reports after decoding a
    frame; other codecs' records give None."""
    with av.open(str(clips[name])) as container:  # analysed in full: a frame is decoded
        context = container.streams.video[0].codec_context
        decoded = context.pix_fmt
        derived = from_configuration(context.codec.canonical_name, context.extradata, context.colorspace)
    assert decoded == CLIPS[name][1]
    if name.startswith(("hevc", "av1")):
        assert derived == decoded
    else:
        assert derived is None


@pytest.mark.parametrize("name", ["h264.mp4", "hevc-8bit.mkv"])
def test_the_container_is_named_as_ffmpeg_names_it(clips: dict[str, Path], name: str) -> None:
    # The header-only open names its demuxer; the name reported is the one a guessing open reports.
    with av.open(str(clips[name])) as container:
        assert probe(clips[name]).container == container.format.name


def test_a_file_that_is_not_what_its_name_says_is_read_all_the_same(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    misnamed = tmp_path / "actually-matroska.mp4"
    misnamed.write_bytes(clips["hevc-8bit.mkv"].read_bytes())
    result = probe(misnamed)
    assert (result.container, result.video_codec, result.width) == ("matroska,webm", "hevc", 160)
    assert result.streams[0].pix_fmt == "yuv420p"


# Lists of other files saved under a video's name: libav's concat and HLS demuxers would open what they name.
LISTS = {
    "concat through a symlink beside it": "ffconcat version 1.0\nfile 'clip.mp4'\n",
    "concat by absolute path": "ffconcat version 1.0\nfile '{secret}'\n",
    "HLS playlist": "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{secret}\n#EXT-X-ENDLIST\n",
    "HLS playlist of a file: URL": "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:{secret}\n#EXT-X-ENDLIST\n",
}


@pytest.mark.parametrize("name", ["Film.mkv", "Film.mp4", "Film.ts"])
@pytest.mark.parametrize("kind", sorted(LISTS))
def test_a_list_of_files_named_like_a_video_reads_nothing_outside(
    kind: str, name: str, shared_media: Path, tmp_path: Path
) -> None:
    """Whoever can write in the library could point such a list at any file the scanner may read: it is
    no video of ours, and nothing it names is opened."""
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.mp4"
    secret.write_bytes((shared_media / "bikes.mp4").read_bytes())
    folder = tmp_path / "library"
    folder.mkdir()
    (folder / "clip.mp4").symlink_to(secret)
    crafted = folder / name
    crafted.write_text(LISTS[kind].format(secret=secret))
    with Outside(outside) as watched:
        with pytest.raises(ProbeError, match="not a readable video"):
            probe(crafted)
        assert watched.touched() == []
