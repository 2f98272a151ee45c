"""Probing real clips in-process, and which files a walk picks up."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from librarrarian_media import ProbeError, probe
from librarrarian_scanner.walk import walk
from librarrarian_testing import library
from librarrarian_testing.clips import ffmpeg, lavfi_clip


def test_probe_of_a_real_clip(shared_media: Path) -> None:
    result = probe(shared_media / "bigbuckbunny.mp4")
    assert (result.video_codec, result.width, result.height) == ("h264", 1280, 720)
    assert result.duration is not None and abs(result.duration - 5.3) < 0.1
    assert [s.kind for s in result.streams] == ["video", "audio"]
    assert result.streams[1].codec == "aac"


def test_probe_of_an_mkv_with_every_kind_of_stream(tmp_path: Path, shared_media: Path) -> None:
    lib = library.build(tmp_path, shared_media)
    result = probe(lib.transcode["mkv"])
    assert [s.kind for s in result.streams] == ["video", "audio", "audio", "subtitle", "attachment"]
    assert [s.language for s in result.streams if s.kind == "audio"] == ["eng", "fra"]
    assert result.container.startswith("matroska")
    assert probe(lib.already_hevc).video_codec == "hevc"  # type: ignore[arg-type]


def test_cover_art_is_not_taken_for_the_video(tmp_path: Path) -> None:
    audio = lavfi_clip(tmp_path / "song.mp4", audio=True, seconds=1)
    cover = tmp_path / "cover.png"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x64", "-frames:v", "1", cover)
    target = tmp_path / "with_cover.mp4"  # MP4 keeps cover art as a video stream; MKV as an attachment
    ffmpeg(
        "-i",
        audio,
        "-i",
        cover,
        "-map",
        "0",
        "-map",
        "1",
        "-c",
        "copy",
        "-c:v:1",
        "png",
        "-disposition:v:1",
        "attached_pic",
        target,
    )
    result = probe(target)
    assert [s.attached_pic for s in result.streams if s.kind == "video"] == [False, True]
    assert result.video_codec == "h264"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda d, m: library.truncated_copy(m / "bigbuckbunny.mp4", d / "broken.mp4"),
            "not a readable video",
        ),
        (
            lambda d, m: (
                (d / "noise.mkv").write_bytes(b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 50)
                and d / "noise.mkv"
            ),
            "not a readable video",
        ),
    ],
)
def test_unreadable_files_get_a_readable_reason(
    tmp_path: Path, shared_media: Path, make, message: str
) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path, shared_media)
    with pytest.raises(ProbeError, match=message) as error:
        probe(path)
    assert "\n" not in str(error.value) and "Traceback" not in str(error.value)


def test_an_audio_only_file_has_no_video_codec(tmp_path: Path) -> None:
    path = tmp_path / "talk.mkv"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=1", "-c:a", "libmp3lame", path)
    assert probe(path).video_codec is None


def test_the_walk_takes_videos_only_and_leaves_clutter_and_escapes_alone(
    tmp_path: Path, shared_media: Path
) -> None:
    lib = library.build(tmp_path / "media", shared_media)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copyfile(shared_media / "bikes.mp4", outside / "secret.mp4")
    (lib.root / "Movies" / "escape.mp4").symlink_to(outside / "secret.mp4")
    (lib.root / "Movies" / "escape_dir").symlink_to(outside)
    (lib.root / "Movies" / "Extras").mkdir()
    shutil.copyfile(shared_media / "bikes.mp4", lib.root / "Movies" / "Extras" / "Trailer.MP4")
    roots = (lib.root.resolve(),)
    names = sorted(f.path.name for f in walk(roots, roots))
    assert names == sorted(
        [
            "Big Buck Bunny.mp4",
            "Bikes S01E01.mkv",
            "Bikes S01E02.avi",
            "Already HEVC.mkv",
            "Broken.mp4",
            "Trailer.MP4",
        ]
    )
