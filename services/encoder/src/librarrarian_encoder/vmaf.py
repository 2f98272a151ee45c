"""How close an output looks to its original: VMAF (0-100) on sampled segments, when the setting asks for it,
with the ffmpeg that has libvmaf (the bundled static build does, Debian's does not; with none, e.g. an
``FFMPEG_PATH`` without it, the score is simply unknown).

Informational only: it never decides a replace. It runs after verification in the same low-priority thread,
while the slot's next job encodes, so its ffmpeg inherits the lower priority (it takes mostly the CPU time
the encodes leave); libvmaf scores one frame in ``SUBSAMPLE`` (the costly part; decoding both files'
segments remains).
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import tempfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from librarrarian_media import reading
from librarrarian_media.ffmpeg_builds import capabilities
from librarrarian_media.ffmpeg_choice import Need

log = logging.getLogger(__name__)

SEGMENT_SECONDS = 2.0
SAMPLE_POINTS = (0.05, 0.5, 0.9)  # where the segments start, as a share of the duration
TIMEOUT_SECONDS = 600.0
# One frame in three: the mean moved by hundredths of a point on the shared clips, for about half the CPU.
SUBSAMPLE = 3
# What may be written into a filter graph unescaped: a scratch path of ours.
_PLAIN_PATH = re.compile(r"[A-Za-z0-9/_.+-]+")
# The output is scaled to the original's size (an odd size was cropped, a rotation may differ), and both are
# compared as 8-bit 4:2:0: the model's own space, and what libvmaf needs (the same format on both inputs).
GRAPH = (
    "[0:v:0]setpts=PTS-STARTPTS[d];[1:v:0]setpts=PTS-STARTPTS[r];"
    "[d][r]scale2ref=flags=bicubic[ds][rs];"
    "[ds]format=yuv420p[dd];[rs]format=yuv420p[rr];"
    f"[dd][rr]libvmaf=n_threads=1:n_subsample={SUBSAMPLE}"
)


# What the graph above runs on: libvmaf, and scale2ref to bring the output to the original's size.
NEED = Need.of(filters=("libvmaf", "scale2ref"))


def available(ffmpeg_path: str) -> bool:
    """Whether this ffmpeg has the filters the graph needs (probed once per binary)."""
    return NEED.filters <= capabilities(ffmpeg_path).filters


def starts(duration: float | None) -> list[float | None]:
    """Where each segment starts; a short (or unknown) length is compared whole (one segment, None)."""
    if not duration or duration <= len(SAMPLE_POINTS) * SEGMENT_SECONDS * 2:
        return [None]
    return [round(point * (duration - SEGMENT_SECONDS), 3) for point in SAMPLE_POINTS]


def graph(subsample: int = SUBSAMPLE, log_path: str | None = None, threads: int = 1) -> str:
    """The comparison; with ``log_path`` (a path of plain characters: it is written into the filter graph)
    libvmaf also writes each scored frame's VMAF there, as JSON."""
    text = GRAPH.replace(f"n_subsample={SUBSAMPLE}", f"n_subsample={subsample}")
    text = text.replace("n_threads=1", f"n_threads={threads}")
    if log_path is None:
        return text
    if not _PLAIN_PATH.fullmatch(log_path):
        raise ValueError(f"not a plain path for a filter graph: {log_path!r}")
    return f"{text}:log_fmt=json:log_path={log_path}"


def argv(
    ffmpeg_path: str,
    output: Path | str,
    source: Path | str,
    start: float | None,
    container: str | None = None,
    *,
    length: float = SEGMENT_SECONDS,
    output_window: bool = True,
    subsample: int = SUBSAMPLE,
    log_path: str | None = None,
    threads: int = 1,
) -> list[str]:
    """Both inputs read as ``reading`` allows: the source with the demuxer the scanner found (``container``).
    The source is read from ``start`` for ``length`` seconds, the output too unless it is already that window
    alone (``output_window`` false: a sample encoded from it)."""
    window = [] if start is None else ["-ss", f"{start:g}", "-t", f"{length:g}"]
    return [
        ffmpeg_path,
        "-hide_banner",
        "-nostdin",
        *(window if output_window else []),
        *reading.input_args(),
        "-i",
        str(output),
        *window,
        *reading.input_args(container),
        "-i",
        str(source),
        "-lavfi",
        graph(subsample, log_path, threads),
        "-f",
        "null",
        "-",
    ]


@dataclass(frozen=True)
class Score:
    """One comparison over segments: ``mean`` of the segments' means, ``low`` the 5th percentile of all
    their scored frames, ``worst`` the lowest segment mean."""

    mean: float
    low: float
    worst: float
    segments: int

    @classmethod
    def of(cls, segments: Sequence[Sequence[float]]) -> Score:
        means = [sum(frames) / len(frames) for frames in segments]
        frames = sorted(f for segment in segments for f in segment)
        return cls(
            mean=round(sum(means) / len(means), 2),
            low=round(percentile(frames, 5), 2),
            worst=round(min(means), 2),
            segments=len(means),
        )


def percentile(ordered: Sequence[float], p: float) -> float:
    """The ``p``-th percentile of sorted values, interpolated between the nearest ranks."""
    rank = (len(ordered) - 1) * p / 100
    below = int(rank)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (rank - below)


def frame_scores(log_text: str) -> list[float]:
    """Each scored frame's VMAF from libvmaf's JSON log."""
    frames = json.loads(log_text).get("frames", [])
    return [float(f["metrics"]["vmaf"]) for f in frames if "vmaf" in f.get("metrics", {})]


def measure(
    ffmpeg_path: str,
    source: Path | str,
    output: Path | str,
    duration: float | None,
    *,
    container: str | None = None,
    pass_fds: Collection[int] = (),
    name: str | None = None,
) -> float | None:
    """The mean VMAF of the sampled segments, or None when it cannot be known (see ``measure_segments``)."""
    score = measure_segments(
        ffmpeg_path, source, output, duration, container=container, pass_fds=pass_fds, name=name
    )
    return None if score is None else score.mean


def measure_segments(
    ffmpeg_path: str,
    source: Path | str,
    output: Path | str,
    duration: float | None,
    *,
    container: str | None = None,
    pass_fds: Collection[int] = (),
    name: str | None = None,
) -> Score | None:
    """The sampled segments' scores, or None when they cannot be known (no libvmaf, an error).
    ``source`` and ``output`` may be descriptor paths (``reading.descriptor_path``) of ``pass_fds``; the
    logs call the output ``name``."""
    name = name or str(output)
    if not available(ffmpeg_path):
        return None
    segments = []
    with tempfile.TemporaryDirectory(prefix="librarrarian-vmaf-") as scratch:
        log_path = str(Path(scratch) / "frames.json")
        for start in starts(duration):
            try:
                done = subprocess.run(
                    argv(ffmpeg_path, output, source, start, container, log_path=log_path),
                    capture_output=True,
                    pass_fds=tuple(pass_fds),
                    text=True,
                    timeout=TIMEOUT_SECONDS,
                    check=False,
                )
                frames = frame_scores(Path(log_path).read_text()) if done.returncode == 0 else []
            except (OSError, ValueError, KeyError, subprocess.TimeoutExpired) as error:
                log.warning("%s: VMAF not measured: %s", name, error)
                return None
            if done.returncode != 0 or not frames:
                tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
                log.warning("%s: VMAF not measured (ffmpeg exit %d): %s", name, done.returncode, tail[0])
                return None
            segments.append(frames)
    return Score.of(segments)
