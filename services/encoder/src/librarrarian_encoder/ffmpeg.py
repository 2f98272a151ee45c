"""ffmpeg: a pure argv builder, a pure ``-progress`` parser, and an async runner.

The runner's ffmpeg dies with the encoder (parent-death signal), so a killed node leaves no encode behind.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import re
import signal
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from librarrarian_contracts import MediaProbe
from librarrarian_contracts.settings import Quality
from librarrarian_media import reading
from librarrarian_runtime.processes import die_with_parent

from .profiles import Profile

# Containers that hold HEVC and whatever streams they already hold; everything else becomes Matroska.
JOB_TAG = "LIBRARRARIAN_JOB"

KEPT_CONTAINERS = {".mkv", ".mp4", ".m4v", ".mov"}
MP4_FAMILY = {".mp4", ".m4v", ".mov"}
# The muxer of each output container, named: a descriptor's path has no extension to guess it from. An M4V
# is an MP4 (the ``ipod`` muxer ffmpeg would guess for the name holds no HEVC).
MUXERS = {".mkv": "matroska", ".mp4": "mp4", ".m4v": "mp4", ".mov": "mov"}


def output_suffix(source: Path, container: str = "keep") -> str:
    """``keep``: MP4/MOV/MKV stay what they are; everything else (and everything with ``mkv``) becomes MKV."""
    suffix = source.suffix.lower()
    return source.suffix if container == "keep" and suffix in KEPT_CONTAINERS else ".mkv"


def build_argv(
    ffmpeg: str,
    source: Path,
    output: Path,
    probe: MediaProbe,
    profile: Profile,
    quality: Quality,
    job_id: int | None = None,
    *,
    suffix: str | None = None,
    dolby_vision: bool = False,
) -> list[str]:
    """Transcode every real video stream with ``profile`` and copy everything else: audio, subtitles,
    attachments (where the container holds them), cover art, chapters and metadata.

    ``source`` and ``output`` may be descriptor paths (``reading.descriptor_path``): the source is read as
    a library file may be read (``reading``), the output's container is told by ``suffix`` (by default the
    output's own). With ``dolby_vision`` the encoder writes the source's Dolby Vision again (its RPUs, from
    the decoded frames, and the configuration record: see ``dynamic_hdr``)."""
    suffix = (output.suffix if suffix is None else suffix).lower()
    argv = [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "warning",
        # The output exists: the encoder created it, empty, and names it by its descriptor, so this
        # overwrites nothing else.
        "-y",
        *reading.input_args(probe.container),
        *profile.input_args(),
        # Inputs without timestamps (raw streams, some AVIs) get generated ones instead of failing to mux.
        "-fflags",
        "+genpts",
        "-i",
        str(source),
        "-map",
        "0:v?",
        "-map",
        "0:a?",
        "-map",
        "0:s?",
    ]
    argv += ["-map_metadata", "0", "-map_chapters", "0", "-c:a", "copy", "-c:s", "copy"]
    if suffix == ".mkv":
        argv += ["-map", "0:t?", "-c:t", "copy"]
    if job_id is not None:
        # Marks the output as this job's, so a retry can tell it from a file of the user's (see pipeline).
        argv += ["-metadata", f"{JOB_TAG}={job_id}"]
    subtitles = [s for s in probe.streams if s.kind == "subtitle"]
    for ordinal, stream in enumerate(subtitles):
        if suffix == ".mkv" and stream.codec == "mov_text":
            argv += [f"-c:s:{ordinal}", "subrip"]  # MP4's text subtitles, made MKV's (same text, same timing)
    videos = [s for s in probe.streams if s.kind == "video"]
    for ordinal, stream in enumerate(videos):
        if stream.attached_pic:
            argv += [f"-c:v:{ordinal}", "copy"]  # cover art stays as it is
            continue
        odd = bool((stream.width or 0) % 2 or (stream.height or 0) % 2)
        argv += profile.video_args(ordinal, quality, odd_size=odd)
        if suffix in MP4_FAMILY and profile.codec == "hevc":
            argv += [f"-tag:v:{ordinal}", "hvc1"]  # what Apple players need to play HEVC in MP4
        if dolby_vision and stream.dv_profile is not None:
            argv += [f"-dolbyvision:v:{ordinal}", "1"]
    if dolby_vision and suffix in MP4_FAMILY:
        argv += ["-strict", "unofficial"]  # the MP4 muxer writes the dvcC/dvvC box only when told so
    argv += [
        *profile.global_args(vbv_ceiling(probe) if dolby_vision else None),
        # Variable frame rate stays variable: timestamps pass through instead of frames being duplicated.
        "-fps_mode",
        "passthrough",
        "-max_muxing_queue_size",
        "9999",
        "-progress",
        "pipe:1",
        "-nostats",
        "-f",
        MUXERS.get(suffix, "matroska"),
        str(output),
    ]
    return argv


def vbv_ceiling(probe: MediaProbe) -> int:
    """A rate ceiling (kbit/s) far above what CRF asks of a real film at the picture's size, so that it
    rarely binds: x265 writes Dolby Vision only under VBV (the HRD its RPUs need)."""
    pixels = (probe.width or 1920) * (probe.height or 1080)
    return 20_000 if pixels <= 1280 * 720 else 40_000 if pixels <= 2048 * 1080 else 100_000


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
    stalled_after: float | None = None  # seconds without progress, when the watchdog stopped it

    @property
    def last_error(self) -> str:
        return first_error(self.stderr_tail)


_CONTEXT = re.compile(r"^(\[[^]]*@ 0x[0-9a-f]+\]\s*)+")


def first_error(stderr: str) -> str:
    """The root cause in ffmpeg's error output is its first line; the ones after are the fallout
    ("Could not open encoder", "Nothing was written"). Logging contexts (``[hevc_nvenc @ 0x…]``) say
    nothing to a user and change every run, so they go."""
    for line in stderr.splitlines():
        cleaned = _CONTEXT.sub("", line.strip()).strip()
        if cleaned:
            return cleaned
    return "no error message"


class Encoding:
    """A running ffmpeg: pause and resume it (SIGSTOP/SIGCONT), and tell a stall from a pause."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.paused = False
        self.last_advance = time.monotonic()
        self._furthest = -1.0

    def pause(self) -> None:
        if not self.paused and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        if self.paused:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGCONT)
            self.paused = False
            self.last_advance = time.monotonic()  # a pause is not a stall

    def saw(self, progress: Progress) -> None:
        if progress.out_seconds > self._furthest:
            self._furthest = progress.out_seconds
            self.last_advance = time.monotonic()

    def stalled_for(self) -> float:
        return 0.0 if self.paused else time.monotonic() - self.last_advance


async def run(
    argv: list[str],
    on_progress: Callable[[Progress], Awaitable[None]],
    *,
    tail_lines: int = 40,
    stall_seconds: float | None = None,
    started: Callable[[Encoding], None] | None = None,
    pass_fds: Collection[int] = (),
) -> Result:
    """Run ffmpeg to the end, with ``pass_fds`` open in it under the same numbers. With ``stall_seconds``,
    an encode whose output time has not advanced for that long (paused time aside) is stopped and reported
    as stalled. Cancelling this stops ffmpeg (TERM, then KILL) before re-raising."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=die_with_parent,
        pass_fds=tuple(pass_fds),
    )
    encoding = Encoding(process)
    if started is not None:
        started(encoding)
    tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
    parser = ProgressParser()

    async def read_progress() -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            progress = parser.feed(raw.decode(errors="replace"))
            if progress is not None:
                encoding.saw(progress)
                await on_progress(progress)

    async def read_errors() -> None:
        assert process.stderr is not None
        async for raw in process.stderr:
            tail.append(raw.decode(errors="replace").rstrip())

    async def watchdog() -> float | None:
        if stall_seconds is None:
            await asyncio.Event().wait()  # never: the reads decide when this ends
        assert stall_seconds is not None
        while (idle := encoding.stalled_for()) < stall_seconds:  # noqa: ASYNC110 - the deadline moves with progress
            await asyncio.sleep(min(1.0, stall_seconds - idle))
        return encoding.stalled_for()

    reading: asyncio.Future[Any] = asyncio.ensure_future(asyncio.gather(read_progress(), read_errors()))
    watching: asyncio.Future[Any] = asyncio.ensure_future(watchdog())
    try:
        await asyncio.wait({reading, watching}, return_when=asyncio.FIRST_COMPLETED)
        stalled_after = None
        if watching.done():
            stalled_after = watching.result()
            await stop(process)
        await reading
        code = await process.wait()
    except BaseException:
        await stop(process)
        raise
    finally:
        watching.cancel()
        reading.cancel()
    return Result(code, "\n".join(tail), stalled_after)


async def stop(process: asyncio.subprocess.Process, grace: float = 5.0) -> None:
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
        os.kill(process.pid, signal.SIGCONT)  # a paused ffmpeg must run to see its TERM
    try:
        await asyncio.wait_for(process.wait(), grace)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
