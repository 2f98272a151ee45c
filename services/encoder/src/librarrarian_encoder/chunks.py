"""One file encoded in segments: where its keyframes are, how it is cut into segments that start on them, and
the ffmpeg argv that encodes one segment's video. Pure, apart from reading the source's packets (no decoding);
joining the segments and checking the seams is ``chunk_join``.

A segment is [start, end) of the source's timeline (seconds from the file's start, as ffmpeg's ``-ss`` counts
them): every frame belongs to exactly one segment, so the joined video has the source's frames, no more, no
fewer."""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av
from librarrarian_contracts.settings import Quality
from librarrarian_media import reading

from .profiles import Profile

# The container of an encoded segment: it holds the codec's headers apart from the frames, as the join's MP4
# wants them (HEVC as ``hvc1``), and holds AV1 as well. MPEG-TS joins as cleanly and keeps 90 kHz timestamps,
# but repeats the headers among the frames and is no place for AV1. Matroska's timestamps are milliseconds:
# a 23.976 fps video's frames are stored to the nearest one, as in any MKV (an MP4 output gets them so too);
# where each segment starts is the plan's, exactly (``chunk_join``).
SEGMENT_SUFFIX = ".mkv"
SEGMENT_MUXER = "matroska"
# A cut's ``-ss`` and ``-t`` are written in whole microseconds, one short: ffmpeg keeps the frames from ``-ss``
# on (a start that a float or a time base finer than a microsecond rounds up would lose the keyframe), and
# ends ``-t`` after the first frame it kept, the keyframe (a length rounded up would keep the next segment's
# keyframe too). A microsecond is far below any frame interval: no other frame changes side.
_BIAS_US = 1


@dataclass(frozen=True)
class Segment:
    """The source's frames from ``start`` (a keyframe) up to, not including, ``end`` (the next segment's
    start; None: to the end of the file)."""

    index: int
    start: float
    end: float | None

    @property
    def duration(self) -> float | None:
        return None if self.end is None else self.end - self.start


@dataclass(frozen=True)
class Timeline:
    """What the packets of a file's main video stream say, without decoding: its keyframes' times (seconds
    from the file's start), its frames from the first keyframe on (those before it, a recording cut in the
    middle of a group of pictures, cannot be decoded: no encode keeps them) and its usual frame interval."""

    keyframes: tuple[float, ...]
    frames: int
    interval: float | None
    times: tuple[float, ...] = ()  # those frames' times, in presentation order (``with_times``)


def main_video(container: av.container.InputContainer) -> av.VideoStream | None:
    """The video stream whose keyframes and frames count: the first one that is not cover art. The segments
    encode the first video stream (``-map 0:v:0``): a file whose first video stream is a picture is not one
    to encode in segments (its joined output would fail the frame count)."""
    return next(
        (s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic), None
    )


def timeline(path: Path | str, *, with_times: bool = False) -> Timeline:
    """Reads the whole file once (its packets, not its pictures: fast, but every byte of it). Packets the
    container marks as discarded (an MP4 edit list's lead-in) are not frames of the file."""
    with av.open(str(path), container_options=reading.OPTIONS) as container:
        stream = main_video(container)
        if stream is None:
            raise ValueError(f"{path} has no video stream")
        start = (container.start_time or 0) / 1_000_000
        base = stream.time_base
        assert base is not None
        keys: set[float] = set()
        pts: list[int] = []
        for packet in container.demux(stream):
            if packet.pts is None or not packet.size or packet.is_discard:
                continue
            pts.append(packet.pts)
            if packet.is_keyframe:
                keys.add(float(packet.pts * base) - start)
    first = min(keys, default=-math.inf)  # no keyframe flagged (intra refresh): every frame counts
    shown = sorted(t for t in (float(p * base) - start for p in pts) if t >= first)
    steps = [b - a for a, b in itertools.pairwise(shown) if b > a]
    interval = statistics.median(steps) if steps else None
    return Timeline(
        keyframes=tuple(sorted(keys)),
        frames=len(shown),
        interval=interval,
        times=tuple(shown) if with_times else (),
    )


def keyframes(path: Path | str) -> list[float]:
    """The main video stream's keyframe times, in seconds from the file's start, ascending."""
    return list(timeline(path).keyframes)


def frame_count(path: Path | str) -> int:
    """The main video stream's frames from its first keyframe on, counted by its packets."""
    return timeline(path).frames


def plan(keyframes: Sequence[float], duration: float | None, segment_seconds: float) -> list[Segment]:
    """Segments of about ``segment_seconds``, each starting on a keyframe: the file is divided evenly, each
    cut moved to the keyframe nearest to it. No segment is shorter than half the target, except the only one
    of a file too short to divide (or with no keyframe to cut at). Same input, same plan."""
    if segment_seconds <= 0:
        raise ValueError("segment_seconds must be positive")
    keys = sorted({k for k in keyframes if math.isfinite(k) and k >= 0})
    if not keys:
        return [Segment(index=0, start=0.0, end=None)]
    first = keys[0]
    end = max(duration or 0.0, keys[-1])
    length = end - first
    count = round(length / segment_seconds)
    shortest = segment_seconds / 2
    starts = [first]
    for i in range(1, count):
        ideal = first + length * i / count
        # The nearest keyframe; the earlier one on a tie.
        cut = min(keys, key=lambda k: (abs(k - ideal), k))
        if cut - starts[-1] >= shortest and end - cut >= shortest:
            starts.append(cut)
    return [
        Segment(index=i, start=start, end=starts[i + 1] if i + 1 < len(starts) else None)
        for i, start in enumerate(starts)
    ]


def segment_name(segment: Segment) -> str:
    """The name of a segment's encoded video: one the concat demuxer's safe mode accepts."""
    return f"segment-{segment.index:05d}{SEGMENT_SUFFIX}"


def _earlier(seconds: float) -> int:
    """``seconds`` in whole microseconds, ``_BIAS_US`` short of it."""
    return max(0, round(seconds * 1_000_000) - _BIAS_US)


def time_arg(micros: int) -> str:
    """Whole microseconds as ffmpeg reads seconds, exactly (no float formatting on the way)."""
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def encode_argv(
    ffmpeg: str,
    source: Path,
    segment: Segment,
    profile: Profile,
    quality: Quality,
    out: Path,
    *,
    container: str | None = None,
    odd_size: bool = False,
) -> list[str]:
    """Encode the video of ``segment`` alone (no audio, subtitles, data, chapters or metadata: the join takes
    them once from the source) to Matroska. ``container``: the demuxer the scanner found (``MediaProbe``).

    ``-ss`` and ``-t`` are input options: ffmpeg seeks to a keyframe at or before ``-ss``, decodes from there,
    drops the frames before ``-ss`` and stops ``-t`` after the first frame it kept (its accurate seek): the
    segment holds its keyframe and every frame up to the next segment's, as the source shows them (an open
    group of pictures' leading frames included, decoded from the keyframe before). An output ``-to`` would
    count from the seek point and run on into the next segment."""
    cut: list[str] = []
    if segment.start > 0:
        cut += ["-ss", time_arg(_earlier(segment.start))]
    if segment.duration is not None:
        cut += ["-t", time_arg(_earlier(segment.duration))]
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "warning",
        "-y",  # the segment's name is ours, in the node's scratch folder
        *reading.input_args(container),
        *profile.input_args(),
        "-fflags",
        "+genpts",
        *cut,
        "-i",
        str(source),
        "-map",
        "0:v:0",
        "-an",
        "-sn",
        "-dn",
        "-map_metadata",
        "-1",
        "-map_chapters",
        "-1",
        *profile.video_args(0, quality, odd_size=odd_size),
        *profile.global_args(),
        "-fps_mode",
        "passthrough",
        "-max_muxing_queue_size",
        "9999",
        "-progress",
        "pipe:1",
        "-nostats",
        "-f",
        SEGMENT_MUXER,
        str(out),
    ]
