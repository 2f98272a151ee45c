"""The quality search's samples: windows of the original cut once into a lossless reference in a private
folder, encoded at one level and scored against it (``Sampler``); the folder removed after the search, or at
the node's next start when a kill left it (``scratch.remove_leftovers``)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
from librarrarian_contracts.settings import Quality
from librarrarian_media import reading
from librarrarian_runtime.processes import die_with_parent

from . import ffmpeg, scratch, vmaf
from .profiles import Profile

# The samples' reference is kept as raw frames up to this size (at RAW_FPS, an upper bound for most video).
RAW_MAX_BYTES = 256 * 1024 * 1024
RAW_FPS = 30


_START_COSTS: dict[tuple[object, ...], float] = {}


@dataclass
class Sampler:
    """Encodes and scores the windows of one source at one level: everything the search does to files.

    The windows are cut from the original once (``prepare``), joined into one lossless reference in the
    scratch folder, so that each probe is one encode of that reference and one comparison with it: two
    processes a level, whatever the number of windows, and no seeking in the original again. The reference
    is raw frames (NUT) when they fit in ``RAW_MAX_BYTES``, as on short files, where reading it is free; FFV1
    (Matroska) otherwise, a third of the size but decoded at every read (two a probe)."""

    encoder_ffmpeg: str
    vmaf_ffmpeg: str
    source: str  # a descriptor path of ``pass_fds`` (or a plain path)
    container: str | None
    profile: Profile
    quality: Quality  # the preset and bit depth; the level is the probe's
    odd_size: bool
    scratch: Path
    pass_fds: Collection[int] = ()
    started: Callable[[ffmpeg.Encoding], None] | None = None
    frame_bytes: int | None = None  # one decoded picture's size, when known: whether raw frames fit
    made: int = field(default=0)  # sample encodes so far
    windows: int = field(default=0)
    raw: bool = field(default=False)
    sampled_seconds: float = field(default=0.0)  # of the source, in the reference
    encode_seconds: float = field(default=0.0)  # the sample encodes' wall time so far

    async def encode_estimate(self, duration: float | None) -> float | None:
        """How long the whole file's encode will most likely take: its frames at the samples' speed, once
        what starting an encode costs is taken out of that speed (``start_cost``)."""
        if not duration or self.sampled_seconds <= 0 or not self.made:
            return None
        per_probe = self.encode_seconds / self.made
        start = min(await self.start_cost(), per_probe * 0.75)
        return start + (per_probe - start) * duration / self.sampled_seconds

    async def start_cost(self) -> float:
        """What one encode costs before its frames (the process, the encoder's set-up at this picture size):
        the time of an encode of the reference's first frame alone. Measured once per encoder, options and
        picture size in this process; a short file's samples are mostly that."""
        key = (self.encoder_ffmpeg, self.profile.encoder, self.quality.preset, self.quality.ten_bit,
               self.frame_bytes, self.odd_size)  # fmt: skip
        if key not in _START_COSTS:
            sample = self.scratch / "start.mkv"
            argv = self.encode_argv(self.quality.level, sample)
            argv[-3:-3] = ["-frames:v", "1"]  # before ``-f matroska <sample>``
            began = time.monotonic()
            result = await ffmpeg.run(argv, _ignore, started=self.started)
            sample.unlink(missing_ok=True)
            if result.returncode != 0:
                return 0.0  # the samples' own speed, then: the estimate errs long, the budget generous
            _START_COSTS[key] = time.monotonic() - began
        return _START_COSTS[key]

    @property
    def reference(self) -> Path:
        return self.scratch / ("reference.nut" if self.raw else "reference.mkv")

    @property
    def reference_format(self) -> str:
        return "nut" if self.raw else "matroska"

    async def prepare(self, spans: list[tuple[float | None, float]]) -> None:
        seconds = sum(length for _, length in spans)
        self.raw = self.frame_bytes is not None and seconds * RAW_FPS * self.frame_bytes <= RAW_MAX_BYTES
        inputs: list[str] = []
        for start, length in spans:
            window = [] if start is None else ["-ss", f"{start:g}", "-t", f"{length:g}"]
            inputs += [*reading.input_args(self.container), *window, "-i", self.source]
        joined = "".join(f"[{i}:v:0]" for i in range(len(spans))) + f"concat=n={len(spans)}:v=1:a=0[v]"
        codec = "rawvideo" if self.raw else "ffv1"
        argv = [self.encoder_ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *inputs,
                "-filter_complex", joined, "-map", "[v]", "-c:v", codec, "-progress", "pipe:1", "-nostats",
                "-f", self.reference_format, str(self.reference)]  # fmt: skip
        result = await ffmpeg.run(argv, _ignore, started=self.started, pass_fds=self.pass_fds)
        if result.returncode != 0:
            raise SearchError(f"the samples could not be cut from the original: {result.last_error}")
        self.windows = len(spans)
        self.sampled_seconds = seconds

    async def probe(self, level: int) -> tuple[vmaf.Score, int]:
        """The samples' score at ``level`` (by window, then pooled) and their encoded size."""
        sample = self.scratch / f"sample-{level}.mkv"
        argv = self.encode_argv(level, sample)
        began = time.monotonic()
        result = await ffmpeg.run(argv, _ignore, started=self.started)
        if result.returncode != 0:
            raise SearchError(f"{self.profile.encoder} failed on the samples: {result.last_error}")
        self.encode_seconds += time.monotonic() - began
        self.made += 1
        try:
            frames = await self._score(sample)
            size = sample.stat().st_size
        finally:
            sample.unlink(missing_ok=True)
        return vmaf.Score.of(_split(frames, self.windows)), size

    def encode_argv(self, level: int, sample: Path) -> list[str]:
        """The reference encoded at ``level`` exactly as the file will be: the job's encoder and options."""
        quality = msgspec.structs.replace(self.quality, level=level)
        return [self.encoder_ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                *reading.input_args(self.reference_format), *self.profile.input_args(), "-i", str(self.reference),
                "-map", "0:v:0", *self.profile.video_args(0, quality, odd_size=self.odd_size),
                *self.profile.global_args(), "-progress", "pipe:1", "-nostats", "-f", "matroska",
                str(sample)]  # fmt: skip

    async def _score(self, sample: Path) -> list[float]:
        log_path = self.scratch / "frames.json"
        argv = vmaf.argv(
            self.vmaf_ffmpeg,
            sample,
            self.reference,
            None,
            self.reference_format,
            subsample=1,  # samples are short: every frame counts
            log_path=str(log_path),
            threads=os.cpu_count() or 1,  # the job waits for it: nothing else of this slot runs
        )
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=die_with_parent,
        )
        try:
            _, stderr = await process.communicate()
        except BaseException:
            await ffmpeg.stop(process)
            raise
        frames = vmaf.frame_scores(log_path.read_text()) if process.returncode == 0 else []
        if not frames:
            tail = stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise SearchError(
                f"the samples could not be scored (ffmpeg exit {process.returncode}): {tail[0]}"
            )
        return frames


def _split(frames: list[float], parts: int) -> list[list[float]]:
    """The joined windows' frames, back into their windows (equal lengths, so equal counts, give or take)."""
    parts = max(1, min(parts, len(frames)))
    bounds = [round(i * len(frames) / parts) for i in range(parts + 1)]
    return [frames[a:b] for a, b in itertools.pairwise(bounds)]


class SearchError(Exception):
    """The search could not score its samples: the job is encoded at the fixed level instead."""


async def _ignore(_: ffmpeg.Progress) -> None:
    return None


def scratch_dir() -> contextlib.AbstractContextManager[Path]:
    """A private folder for one search's samples, removed after it (``scratch``)."""
    return scratch.folder(scratch.SEARCH)
