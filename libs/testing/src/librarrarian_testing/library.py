"""A small but realistic media library made from the shared clips, with every outcome represented:
files to transcode (several containers and codecs, extra streams), one already HEVC, one corrupt, and the
clutter real libraries have (posters, subtitles, partial downloads, other tools' temp and lock files)."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .clips import ffmpeg, truncated_copy


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Library:
    root: Path
    transcode: dict[str, Path] = field(default_factory=dict)  # name → source path
    already_hevc: Path | None = None
    corrupt: Path | None = None
    clutter: list[Path] = field(default_factory=list)
    checksums: dict[Path, str] = field(default_factory=dict)  # files that must stay byte-identical


CHAPTERS = """;FFMETADATA1
title=Bikes
[CHAPTER]
TIMEBASE=1/1000
START=0
END=4000
title=Start
[CHAPTER]
TIMEBASE=1/1000
START=4000
END=10000
title=Finish
"""

SUBTITLES = """1
00:00:00,500 --> 00:00:02,000
Ride on.

2
00:00:03,000 --> 00:00:05,000
Faster!
"""


def build(root: Path, shared_media: Path) -> Library:
    lib = Library(root=root)
    movies = root / "Movies"
    season = root / "TV" / "Bikes" / "Season 01"
    bbb_dir = movies / "Big Buck Bunny (2008)"
    for folder in (bbb_dir, season):
        folder.mkdir(parents=True, exist_ok=True)
    bbb, bikes = shared_media / "bigbuckbunny.mp4", shared_media / "bikes.mp4"

    # H.264 + AAC in MP4: transcoded in place, container kept.
    target = bbb_dir / "Big Buck Bunny.mp4"
    shutil.copyfile(bbb, target)
    lib.transcode["mp4"] = target

    # MKV with two audio tracks, a subtitle track, an attached font and chapters: all must survive.
    work = root / ".build"
    work.mkdir(exist_ok=True)
    (work / "chapters.txt").write_text(CHAPTERS)
    (work / "subs.srt").write_text(SUBTITLES)
    (work / "font.ttf").write_bytes(b"\x00\x01\x00\x00" + bytes(range(256)) * 8)
    target = season / "Bikes S01E01.mkv"
    ffmpeg(
        "-i",
        bikes,
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=10",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=660:duration=10",
        "-i",
        work / "subs.srt",
        "-i",
        work / "chapters.txt",
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "2:a",
        "-map",
        "3:s",
        "-map_chapters",
        "4",
        "-c:v",
        "copy",
        "-c:a:0",
        "aac",
        "-c:a:1",
        "libmp3lame",
        "-c:s",
        "srt",
        "-metadata:s:a:0",
        "language=eng",
        "-metadata:s:a:1",
        "language=fra",
        "-attach",
        work / "font.ttf",
        "-metadata:s:t",
        "mimetype=application/x-truetype-font",
        target,
    )
    lib.transcode["mkv"] = target

    # MPEG-4 Part 2 + MP3 in AVI: AVI cannot hold HEVC well, so the output becomes MKV.
    target = season / "Bikes S01E02.avi"
    ffmpeg(
        "-t",
        "4",
        "-i",
        bikes,
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=330:duration=4",
        "-c:v",
        "mpeg4",
        "-q:v",
        "5",
        "-c:a",
        "libmp3lame",
        "-shortest",
        target,
    )
    lib.transcode["avi"] = target

    # Already HEVC: left alone.
    target = movies / "Already HEVC.mkv"
    ffmpeg(
        "-t",
        "2",
        "-i",
        bikes,
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-x265-params",
        "log-level=error",
        target,
    )
    lib.already_hevc = target

    # Corrupt: the first 4 KiB of a real file.
    lib.corrupt = truncated_copy(bbb, movies / "Broken.mp4")

    # Clutter the scanner must not touch.
    poster = bbb_dir / "poster.jpg"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=200x300:duration=1", "-frames:v", "1", poster)
    subtitle = bbb_dir / "Big Buck Bunny.srt"
    subtitle.write_text(SUBTITLES)
    partial = movies / "Downloading.mkv.part"
    partial.write_bytes(bbb.read_bytes()[:100_000])
    foreign_tmp = movies / ".tmp_othertool.mkv"
    shutil.copyfile(bikes, foreign_tmp)
    locked = movies / "Incoming.mkv"
    shutil.copyfile(bikes, locked)
    lock = movies / "Incoming.mkv.lock"
    lock.write_text("")
    lib.clutter = [poster, subtitle, partial, foreign_tmp, locked, lock]
    shutil.rmtree(work)

    for path in [lib.already_hevc, lib.corrupt, *lib.clutter]:
        lib.checksums[path] = sha256(path)
    return lib
