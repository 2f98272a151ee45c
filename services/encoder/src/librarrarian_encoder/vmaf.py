"""How close an output looks to its original: VMAF (0-100) on sampled segments, when the setting asks for it,
with the ffmpeg that has libvmaf (the bundled static build does, Debian's does not; with none, e.g. an
``FFMPEG_PATH`` without it, the score is simply unknown).

Informational only: it never decides a replace. It runs after verification, while the slot's next job
encodes, so it must not slow that encode: its ffmpeg runs under ``SCHED_IDLE`` (it gets only the CPU time the
encodes leave) until the slot waits on the job (:class:`Urgency`), and libvmaf scores one frame in
``SUBSAMPLE`` (the costly part; decoding both files' segments remains).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import threading
from collections.abc import Collection
from pathlib import Path

from librarrarian_media import reading
from librarrarian_media.ffmpeg_builds import capabilities
from librarrarian_media.ffmpeg_choice import Need

log = logging.getLogger(__name__)

SEGMENT_SECONDS = 2.0
SAMPLE_POINTS = (0.05, 0.5, 0.9)  # where the segments start, as a share of the duration
TIMEOUT_SECONDS = 600.0
# One frame in three: the mean moves by a few tenths of a point on real footage, for about half the CPU.
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


class Urgency:
    """Whether a job's VMAF may take CPU from the encodes: not while the slot's next encode runs (its ffmpeg
    under ``SCHED_IDLE``), yes once the slot waits on the job (:meth:`hurry`: the next encode ended, or the
    node stops), when a starved measure would hold the slot up. Then it runs at the thread's lower priority,
    which on a node with nothing else to do is full speed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the measure runs in a thread; hurry is called from the event loop
        self._urgent = False
        self._running: set[int] = set()

    def hurry(self) -> None:
        with self._lock:
            self._urgent = True
            for pid in self._running:
                _schedule(pid, os.SCHED_OTHER)

    def started(self, pid: int) -> None:
        with self._lock:
            self._running.add(pid)
            if not self._urgent:
                _schedule(pid, os.SCHED_IDLE)

    def ended(self, pid: int) -> None:
        with self._lock:
            self._running.discard(pid)


def _schedule(pid: int, policy: int) -> None:
    with contextlib.suppress(OSError, AttributeError):  # gone already; or not Linux: the thread's priority
        os.sched_setscheduler(pid, policy, os.sched_param(0))


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
    urgency: Urgency | None = None,
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
            returncode, stderr = _run(
                argv(ffmpeg_path, output, source, start, container), pass_fds, urgency or Urgency()
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            log.warning("%s: VMAF not measured: %s", name, error)
            return None
        found = _SCORE.findall(stderr)
        if returncode != 0 or not found:
            tail = stderr.strip().splitlines()[-1:] or ["no output"]
            log.warning("%s: VMAF not measured (ffmpeg exit %d): %s", name, returncode, tail[0])
            return None
        scores.append(float(found[-1]))
    return round(sum(scores) / len(scores), 2)


def _run(command: list[str], pass_fds: Collection[int], urgency: Urgency) -> tuple[int, str]:
    """Run ``command`` at ``urgency``; its exit code and what it wrote on stderr. The policy is set from here,
    just after the start, rather than in the child before ``exec`` (unsafe in a threaded process); the moment
    before counts for nothing."""
    with subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        pass_fds=tuple(pass_fds),
        text=True,
    ) as process:
        urgency.started(process.pid)
        try:
            _, stderr = process.communicate(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
        finally:
            urgency.ended(process.pid)
    return process.returncode, stderr
