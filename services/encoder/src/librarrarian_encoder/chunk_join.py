"""Joining a file's encoded segments (``chunks``) into one output without encoding anything again, with the
source's audio, subtitles, attachments, chapters and metadata taken once; and the decode-free check that no
frame was lost or doubled where two segments meet."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from librarrarian_contracts import MediaProbe
from librarrarian_media import reading

from .chunks import SEGMENT_MUXER, Segment, time_arg, timeline
from .ffmpeg import JOB_TAG, MP4_FAMILY, MUXERS

LIST_NAME = "segments.ffconcat"
# How far a join's gap may be from the usual frame interval, as a share of it: a lost frame doubles the gap,
# a doubled one makes it zero.
GAP_TOLERANCE = 0.5


def _micros(seconds: float) -> int:
    return round(seconds * 1_000_000)


def concat_list(segments: Sequence[Path], plan: Sequence[Segment], folder: Path) -> str:
    """The concat demuxer's list: each encoded segment (under ``folder``, named relative to it, as the
    demuxer's safe mode wants) with its planned duration. The durations place every segment at its planned
    start, whatever its container says it lasts: a frame too many or too few shows as a seam instead of
    moving the rest of the film against its audio."""
    if not segments or len(segments) != len(plan):
        raise ValueError(f"{len(segments)} encoded segments for a plan of {len(plan)}")
    lines = ["ffconcat version 1.0"]
    for path, segment in zip(segments, plan, strict=True):
        name = path.relative_to(folder).as_posix()
        if "'" in name or "\\" in name:
            raise ValueError(f"a segment named {name!r} cannot be listed")
        lines.append(f"file '{name}'")
        if segment.end is not None:
            lines.append(f"duration {time_arg(_micros(segment.end) - _micros(segment.start))}")
    return "\n".join(lines) + "\n"


def join_argv(
    ffmpeg: str,
    segments: Sequence[Path],
    source: Path,
    out: Path,
    *,
    plan: Sequence[Segment],
    probe: MediaProbe,
    scratch: Path,
    codec: str = "hevc",
    job_id: int | None = None,
    suffix: str | None = None,
    streams: tuple[int, ...] | None = None,
) -> list[str]:
    """The argv that joins ``segments`` (the ``plan``'s, encoded in ``codec``, in its order, in ``scratch``)
    and copies what else of ``source`` ``ffmpeg.build_argv`` keeps, by the same rules (``streams``,
    ``suffix``, ``job_id``: see there). Writes the concat list into ``scratch``.

    The video keeps its place against the audio: it starts at the first segment's start (``-itsoffset``), as
    in the source (a soundtrack that begins before the picture keeps its lead). Copied streams keep their
    timestamps as they are, the segments' included: nothing is encoded, so no frame is added or dropped."""
    suffix = (out.suffix if suffix is None else suffix).lower()
    listing = scratch / LIST_NAME
    listing.write_text(concat_list(segments, plan, scratch))
    start = _micros(plan[0].start)
    argv = [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "warning",
        "-y",
        # A segment that cannot be read ends the concat demuxer's input, which ffmpeg takes for the end of
        # the video (exit status 0) unless told that an error is an error.
        "-xerror",
        # The list and the segments are the node's own; still, the demuxer opens nothing else: the
        # whitelists hold for the files it opens too.
        "-f",
        "concat",
        "-safe",
        "1",
        "-protocol_whitelist",
        reading.PROTOCOLS,
        "-format_whitelist",
        f"concat,{SEGMENT_MUXER}",
        *(["-itsoffset", time_arg(start)] if start > 0 else []),
        "-i",
        str(listing),
        *reading.input_args(probe.container),
        "-fflags",
        "+genpts",
        "-i",
        str(source),
        "-map",
        "0:v:0",
        # The video's own tags (language, title) are the source's, as when the file is encoded whole.
        "-map_metadata:s:v:0",
        f"1:s:{_main_video(probe)}",
    ]
    # Cover art comes after the picture it illustrates, copied as it is.
    argv += [
        a for s in probe.streams if s.kind == "video" and s.attached_pic for a in ("-map", f"1:{s.index}")
    ]
    if streams is None:
        argv += ["-map", "1:a?", "-map", "1:s?"]
    else:
        kinds = {s.index: s.kind for s in probe.streams}
        for kind in ("audio", "subtitle"):  # audio first, as without a plan
            argv += [arg for i in streams if kinds.get(i) == kind for arg in ("-map", f"1:{i}")]
    argv += ["-map_metadata", "1", "-map_chapters", "1", "-c:v", "copy", "-c:a", "copy"]
    by_index = {s.index: s for s in probe.streams}
    order = [s.index for s in probe.streams] if streams is None else streams  # as mapped
    subtitles = [by_index[i] for i in order if i in by_index and by_index[i].kind == "subtitle"]
    for ordinal, stream in enumerate(subtitles):
        # MP4's text subtitles made MKV's (same text, same timing); the rest as they are.
        text = suffix == ".mkv" and stream.codec == "mov_text"
        argv += [f"-c:s:{ordinal}", "subrip" if text else "copy"]
    if suffix == ".mkv":
        argv += ["-map", "1:t?", "-c:t", "copy"]
    if job_id is not None:
        argv += ["-metadata", f"{JOB_TAG}={job_id}"]
    if suffix in MP4_FAMILY and codec == "hevc":
        argv += ["-tag:v:0", "hvc1"]  # what Apple players need to play HEVC in MP4
    argv += [
        "-max_muxing_queue_size",
        "9999",
        "-progress",
        "pipe:1",
        "-nostats",
        "-f",
        MUXERS.get(suffix, "matroska"),
        str(out),
    ]
    return argv


def _main_video(probe: MediaProbe) -> int:
    return next((s.index for s in probe.streams if s.kind == "video" and not s.attached_pic), 0)


def join_times(plan: Sequence[Segment]) -> list[float]:
    """Where the plan's segments meet, in seconds from the first segment's start (``seams``'s ``joins``)."""
    return [segment.start - plan[0].start for segment in plan[1:]]


@dataclass(frozen=True)
class Seam:
    """Where two segments meet (seconds from the video's first frame), and the time between the frames on
    either side of it (the one further from the usual interval, of the gaps before and after the later
    segment's first frame)."""

    at: float
    gap: float | None  # None: no frame on one side of it


@dataclass(frozen=True)
class SeamReport:
    frames: int
    expected_frames: int | None  # the source's, when given
    interval: float | None  # the output's usual frame interval
    joins: tuple[Seam, ...]  # every join, in order
    problems: tuple[str, ...]  # what is wrong, said for a person; none: no seam

    @property
    def clean(self) -> bool:
        return not self.problems


def seams(path: Path | str, joins: Sequence[float], *, expected_frames: int | None = None) -> SeamReport:
    """Checks the joined output's video by its packets, decoding nothing: as many frames as the source
    (``expected_frames``: its ``chunks.frame_count``), timestamps strictly increasing, and at each of the
    ``joins`` (``join_times``) a gap within ``GAP_TOLERANCE`` of the usual frame interval. The joins are
    counted from the video's first frame, so an output whose audio starts elsewhere is measured alike."""
    line = timeline(path, with_times=True)
    times, interval = line.times, line.interval
    problems: list[str] = []
    if expected_frames is not None and line.frames != expected_frames:
        problems.append(f"{line.frames} frames, the source has {expected_frames}")
    repeats = sum(1 for a, b in itertools.pairwise(times) if b <= a)
    if repeats:
        problems.append(f"{repeats} frame(s) at the time of the frame before")
    found: list[Seam] = []
    for at in joins:
        seam = _seam(times, at, interval)
        found.append(seam)
        if seam.gap is None:
            problems.append(f"no frame on one side of the join at {at:.3f} s")
        elif interval and abs(seam.gap - interval) > GAP_TOLERANCE * interval:
            problems.append(
                f"the join at {at:.3f} s: {seam.gap * 1000:.1f} ms between frames, usually {interval * 1000:.1f}"
            )
    return SeamReport(
        frames=line.frames,
        expected_frames=expected_frames,
        interval=interval,
        joins=tuple(found),
        problems=tuple(problems),
    )


def _seam(times: Sequence[float], at: float, interval: float | None) -> Seam:
    if not times:
        return Seam(at=at, gap=None)
    # The later segment's first frame is the first one at or after the join (half a frame of slack for the
    # containers' rounding). The gaps on both sides of it are the join's: a lost frame widens the one before,
    # a frame doubled across the join leaves one of them empty. The worse one is the seam's.
    after = bisect.bisect_left(times, times[0] + at - (interval or 0.0) / 2)
    if after in (0, len(times)):
        return Seam(at=at, gap=None)
    gaps = [times[i] - times[i - 1] for i in (after, after + 1) if i < len(times)]
    return Seam(at=at, gap=max(gaps, key=lambda gap: abs(gap - (interval or gap))))
