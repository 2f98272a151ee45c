"""ffmpeg: a pure argv builder, a pure ``-progress`` parser, and an async runner.

The runner's ffmpeg dies with the encoder (parent-death signal), so a killed node leaves no encode behind.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from librarrarian_contracts import MediaProbe
from librarrarian_runtime.processes import die_with_parent

# Containers that hold HEVC and whatever streams they already hold; everything else becomes Matroska.
JOB_TAG = "LIBRARRARIAN_JOB"

KEPT_CONTAINERS = {".mkv", ".mp4", ".m4v", ".mov"}
MP4_FAMILY = {".mp4", ".m4v", ".mov"}


@dataclass(frozen=True)
class Quality:
    preset: str = "medium"
    crf: int = 22


def output_suffix(source: Path) -> str:
    suffix = source.suffix.lower()
    return source.suffix if suffix in KEPT_CONTAINERS else ".mkv"


def build_argv(
    ffmpeg: str, source: Path, output: Path, probe: MediaProbe, quality: Quality, job_id: int | None = None
) -> list[str]:
    """Transcode every real video stream to HEVC and copy everything else: audio, subtitles, attachments
    (where the container holds them), cover art, chapters and metadata."""
    suffix = output.suffix.lower()
    argv = [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "warning",
        "-y",
        "-i",
        str(source),
        "-map",
        "0:v?",
        "-map",
        "0:a?",
        "-map",
        "0:s?",
    ]
    if suffix == ".mkv":
        argv += ["-map", "0:t?"]
    argv += ["-map_metadata", "0", "-map_chapters", "0", "-c", "copy"]
    if job_id is not None:
        # Marks the output as this job's, so a retry can tell it from a file of the user's (see worker).
        argv += ["-metadata", f"{JOB_TAG}={job_id}"]
    videos = [s for s in probe.streams if s.kind == "video"]
    for ordinal, stream in enumerate(videos):
        if stream.attached_pic:
            continue  # cover art stays as it is
        argv += [
            f"-c:v:{ordinal}",
            "libx265",
            f"-preset:v:{ordinal}",
            quality.preset,
            f"-crf:v:{ordinal}",
            str(quality.crf),
        ]
        if suffix in MP4_FAMILY:
            argv += [f"-tag:v:{ordinal}", "hvc1"]  # what Apple players need to play HEVC in MP4
    argv += [
        "-x265-params",
        "log-level=error",
        "-max_muxing_queue_size",
        "9999",
        "-progress",
        "pipe:1",
        "-nostats",
        str(output),
    ]
    return argv


@dataclass(frozen=True)
class Progress:
    out_seconds: float
    fps: float | None
    speed: float | None
    done: bool

    def percent(self, duration: float | None) -> float:
        if self.done:
            return 100.0
        if not duration:
            return 0.0
        return max(0.0, min(99.9, 100.0 * self.out_seconds / duration))

    def eta_seconds(self, duration: float | None) -> float | None:
        if not duration or not self.speed:
            return None
        return max(0.0, (duration - self.out_seconds) / self.speed)


def _number(text: str | None, suffix: str = "") -> float | None:
    if not text:
        return None
    text = text.strip().removesuffix(suffix)
    try:
        return float(text)
    except ValueError:
        return None  # "N/A" early in an encode


class ProgressParser:
    """Feed it ``-progress`` lines; every ``progress=`` line closes a block and yields a Progress."""

    def __init__(self) -> None:
        self._block: dict[str, str] = {}

    def feed(self, line: str) -> Progress | None:
        key, sep, value = line.strip().partition("=")
        if not sep:
            return None
        self._block[key] = value
        if key != "progress":
            return None
        block, self._block = self._block, {}
        micros = _number(block.get("out_time_us")) or _number(block.get("out_time_ms")) or 0.0
        return Progress(
            out_seconds=max(0.0, micros / 1_000_000),
            fps=_number(block.get("fps")),
            speed=_number(block.get("speed"), "x"),
            done=value == "end",
        )


@dataclass(frozen=True)
class Result:
    returncode: int
    stderr_tail: str

    @property
    def last_error(self) -> str:
        lines = [line for line in self.stderr_tail.splitlines() if line.strip()]
        return lines[-1] if lines else "no error message"


async def run(
    argv: list[str],
    on_progress: Callable[[Progress], Awaitable[None]],
    *,
    tail_lines: int = 40,
    started: Callable[[asyncio.subprocess.Process], None] | None = None,
) -> Result:
    """Run ffmpeg to the end; cancelling this stops ffmpeg (TERM, then KILL) before re-raising."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=die_with_parent,
    )
    if started is not None:
        started(process)
    tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
    parser = ProgressParser()

    async def read_progress() -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            progress = parser.feed(raw.decode(errors="replace"))
            if progress is not None:
                await on_progress(progress)

    async def read_errors() -> None:
        assert process.stderr is not None
        async for raw in process.stderr:
            tail.append(raw.decode(errors="replace").rstrip())

    try:
        await asyncio.gather(read_progress(), read_errors())
        code = await process.wait()
    except BaseException:
        await stop(process)
        raise
    return Result(code, "\n".join(tail))


async def stop(process: asyncio.subprocess.Process, grace: float = 5.0) -> None:
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        await asyncio.wait_for(process.wait(), grace)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
