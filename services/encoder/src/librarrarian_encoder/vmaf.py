"""How close an output looks to its original: VMAF (0-100) on sampled segments, when the setting asks for it,
with the ffmpeg that has libvmaf (the bundled static build does, Debian's does not; with none, e.g. an
``FFMPEG_PATH`` without it, the score is simply unknown).

Informational only: it never decides a replace. It runs after verification in the same low-priority thread,
while the slot's next job encodes, so its ffmpeg inherits the lower priority (it takes mostly the CPU time
the encodes leave); libvmaf scores one frame in ``SUBSAMPLE`` (the costly part; decoding both files'
segments remains).
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Collection
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
_SCORE = re.compile(r"VMAF score: ([0-9.]+)")
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


def argv(
    ffmpeg_path: str,
    output: Path | str,
    source: Path | str,
    start: float | None,
    container: str | None = None,
) -> list[str]:
    """Both inputs read as ``reading`` allows: the source with the demuxer the scanner found (``container``)."""
    window = [] if start is None else ["-ss", f"{start:g}", "-t", f"{SEGMENT_SECONDS:g}"]
    return [
        ffmpeg_path,
        "-hide_banner",
        "-nostdin",
        *window,
        *reading.input_args(),
        "-i",
        str(output),
        *window,
        *reading.input_args(container),
        "-i",
        str(source),
        "-lavfi",
        GRAPH,
        "-f",
        "null",
        "-",
    ]


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
    """The mean VMAF of the sampled segments, or None when it cannot be known (no libvmaf, an error).
    ``source`` and ``output`` may be descriptor paths (``reading.descriptor_path``) of ``pass_fds``; the
    logs call the output ``name``."""
    name = name or str(output)
    if not available(ffmpeg_path):
        return None
    scores = []
    for start in starts(duration):
        try:
            done = subprocess.run(
                argv(ffmpeg_path, output, source, start, container),
                capture_output=True,
                pass_fds=tuple(pass_fds),
                text=True,
                timeout=TIMEOUT_SECONDS,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            log.warning("%s: VMAF not measured: %s", name, error)
            return None
        found = _SCORE.findall(done.stderr)
        if done.returncode != 0 or not found:
            tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
            log.warning("%s: VMAF not measured (ffmpeg exit %d): %s", name, done.returncode, tail[0])
            return None
        scores.append(float(found[-1]))
    return round(sum(scores) / len(scores), 2)
