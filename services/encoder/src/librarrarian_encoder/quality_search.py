"""Quality by target: the coarsest level of the node's own encoder whose samples still look as good as asked.

A few short windows spread over the file are encoded at a candidate level, exactly as the whole file will be
(same encoder, preset and options, the video stream alone), and scored against the same windows of the
original with libvmaf, every frame. Scores fall as the level coarsens, nearly in a straight line over the few
levels that matter, so each next level is read off the line through the nearest two probes (the first guess
takes ``SLOPE`` points a level), and the search stops once a probe lands just above the target or two
neighbouring levels bracket it. What it costs is bounded: ``MAX_PROBES`` levels of a sampled share of the
file (``windows``). A search that starts where the last file of the same series ended (``start``) usually
needs one probe.

A level is judged by its low end too, not by the mean alone (``passes``): the worst window and the 5th
percentile of the frames must stay near the target, so a scene that looks bad is not hidden by easy ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Awaitable, Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
from librarrarian_contracts.settings import EncoderFamily, LevelRange, Quality
from librarrarian_media import reading
from librarrarian_runtime.processes import die_with_parent

from . import ffmpeg, vmaf
from .profiles import Profile

# Each window: a share of the file, within bounds; their number grows with the length. Four at least: on a
# short file each is short, and more of them cover more of its scenes for the same cost.
WINDOW_SHARE = 0.015
WINDOW_MIN_SECONDS = 0.5
WINDOW_MAX_SECONDS = 3.0
WINDOWS_MIN, WINDOWS_MAX = 4, 10
SECONDS_PER_WINDOW = 300.0
MAX_PROBES = 4
SLOPE = 0.6  # VMAF points per level: the first guess, before two probes give the real one
# Each guess aims this far above the target, not at its edge; a passing probe is taken at once when one level
# coarser would most likely fall below that (by the slope): a probe costs more than a level's bytes saves.
AIM = 0.25
MAX_STEP = 6
# How far under the target the worst window and the frames' 5th percentile may fall at a chosen level.
WORST_ALLOWANCE = 2.0
LOW_ALLOWANCE = 8.0
# The check after the encode: a file more than this under the target (its mean, or its low end under
# the allowances) is encoded again, finer.
MISS_MARGIN = 1.0
SCRATCH_PREFIX = "librarrarian-search-"
# The samples' reference is kept as raw frames up to this size (at RAW_FPS, an upper bound for most video).
RAW_MAX_BYTES = 256 * 1024 * 1024
RAW_FPS = 30


def passes(score: vmaf.Score, target: float) -> bool:
    """Whether samples at a level look as good as asked: the mean reaches the target, the low end nearly."""
    return (
        score.mean >= target
        and score.worst >= target - WORST_ALLOWANCE
        and score.low >= target - LOW_ALLOWANCE
    )


def misses(score: vmaf.Score, target: float) -> bool:
    """Whether a finished file landed more than ``MISS_MARGIN`` under the target (mean or low end)."""
    return (
        score.mean < target - MISS_MARGIN
        or score.worst < target - MISS_MARGIN - WORST_ALLOWANCE
        or score.low < target - MISS_MARGIN - LOW_ALLOWANCE
    )


def windows(duration: float | None, *, fewer: bool = False) -> list[tuple[float | None, float]]:
    """Where the samples start and how long they are; a short file is sampled whole (one window, None).
    ``fewer``: half as many (at least two), for a search that starts at a level its series already proved;
    the check after the encode keeps the guarantee."""
    if not duration or duration <= 0:
        return [(None, 0.0)]
    count = min(WINDOWS_MAX, max(WINDOWS_MIN, math.ceil(duration / SECONDS_PER_WINDOW)))
    if fewer:
        count = max(2, math.ceil(count / 2))
    length = min(WINDOW_MAX_SECONDS, max(WINDOW_MIN_SECONDS, duration * WINDOW_SHARE))
    if count * length >= duration / 2:
        return [(None, duration)]
    return [(round((i + 0.5) / count * (duration - length), 3), length) for i in range(count)]


@dataclass(frozen=True)
class Scale:
    """An encoder's levels seen as coarseness (higher: smaller and worse), whatever its own direction."""

    levels: LevelRange
    finer_is_lower: bool = True  # VideoToolbox's ``-q:v`` is the other way round

    @classmethod
    def of(cls, family: EncoderFamily, levels: LevelRange) -> Scale:
        return cls(levels, family is not EncoderFamily.VIDEOTOOLBOX)

    def coarseness(self, level: int) -> int:
        return level if self.finer_is_lower else -level

    def level(self, coarseness: int) -> int:
        return coarseness if self.finer_is_lower else -coarseness

    @property
    def bounds(self) -> tuple[int, int]:
        """The finest and the coarsest coarseness allowed."""
        a, b = self.coarseness(self.levels.best), self.coarseness(self.levels.worst)
        return min(a, b), max(a, b)

    def clamp(self, coarseness: int) -> int:
        finest, coarsest = self.bounds
        return max(finest, min(coarsest, coarseness))


@dataclass(frozen=True)
class Probe:
    coarseness: int
    score: vmaf.Score
    sample_bytes: int


@dataclass
class Found:
    """What the search chose: ``level`` with its samples' ``score`` (None when no probe reached the target
    and the level was extrapolated), and every probe made."""

    level: int
    score: vmaf.Score | None
    probes: list[Probe]
    seconds: float
    slope: float
    note: str = ""

    def size_ratio(self, scale: Scale, level: int, chosen: int) -> float | None:
        """How much larger an output at ``level`` would be than one at ``chosen``, from the samples' sizes
        (log-linear between the outermost probes); None when the probes cannot say."""
        by = {p.coarseness: p.sample_bytes for p in self.probes if p.sample_bytes > 0}
        a, b = scale.coarseness(level), scale.coarseness(chosen)
        if a in by and b in by:
            return by[a] / by[b]
        if len(by) < 2:
            return None
        (c1, b1), (c2, b2) = min(by.items()), max(by.items())
        rate = (math.log(b2) - math.log(b1)) / (c2 - c1)
        return math.exp(rate * (a - b))


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

    async def probe(self, level: int) -> tuple[vmaf.Score, int]:
        """The samples' score at ``level`` (by window, then pooled) and their encoded size."""
        sample = self.scratch / f"sample-{level}.mkv"
        argv = self.encode_argv(level, sample)
        result = await ffmpeg.run(argv, _ignore, started=self.started)
        if result.returncode != 0:
            raise SearchError(f"{self.profile.encoder} failed on the samples: {result.last_error}")
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


async def search(
    sampler: Sampler,
    scale: Scale,
    target: float,
    duration: float | None,
    start_level: int,
    *,
    max_probes: int = MAX_PROBES,
    progress: Callable[[float], Awaitable[None]] | None = None,
    reused: bool = False,
) -> Found:
    """The coarsest level within ``scale`` whose samples pass ``target``, starting at ``start_level`` (with
    ``reused``: the level the series' last search ended at, checked on fewer windows)."""
    began = time.monotonic()
    await sampler.prepare(windows(duration, fewer=reused))
    probes: dict[int, Probe] = {}
    slope = SLOPE
    finest, coarsest = scale.bounds
    here = scale.clamp(scale.coarseness(start_level))
    while True:
        score, size = await sampler.probe(scale.level(here))
        probes[here] = Probe(here, score, size)
        if progress is not None:
            await progress(min(99.0, 100.0 * len(probes) / max_probes))
        slope = _slope(probes, slope)
        if passes(score, target) and score.mean - slope < target + AIM:
            break  # one level coarser would most likely miss what the guesses aim at: a probe not worth it
        good = [c for c, p in probes.items() if passes(p.score, target)]
        bad = [c for c, p in probes.items() if not passes(p.score, target)]
        low, high = (max(good) if good else finest - 1), (min(bad) if bad else coarsest + 1)
        if high - low <= 1 or len(probes) >= max_probes:
            break
        guess = here + math.floor((score.mean - target - AIM) / slope)
        # A level that failed only by its low end still has to go finer, one that passed coarser.
        guess = max(guess, here + 1) if passes(score, target) else min(guess, here - 1)
        guess = max(here - MAX_STEP, min(here + MAX_STEP, guess))
        guess = max(low + 1, min(high - 1, guess))  # strictly inside what is still unknown
        if guess == here or guess in probes:
            break
        here = guess
    good = [c for c, p in probes.items() if passes(p.score, target)]
    found = Found(0, None, sorted(probes.values(), key=lambda p: p.coarseness), 0.0, slope)
    if good:
        best = probes[max(good)]
        found.level, found.score = scale.level(best.coarseness), best.score
    else:
        finest_probe = probes[min(probes)]
        short = target - finest_probe.score.mean
        chosen = scale.clamp(finest_probe.coarseness - max(1, math.ceil(short / slope)))
        found.level = scale.level(chosen)
        if chosen == finest_probe.coarseness:
            found.score = finest_probe.score
        found.note = (
            f"VMAF {target:g} not reached by the samples at the finest level allowed ({found.level})"
            if chosen == finest
            else f"VMAF {target:g} not reached within {len(probes)} probes; level {found.level} extrapolated"
        )
    found.seconds = round(time.monotonic() - began, 3)
    return found


def _slope(probes: dict[int, Probe], guess: float) -> float:
    """VMAF points lost per level, from the two probes nearest each other; bounded to what encoders do."""
    if len(probes) < 2:
        return guess
    ordered = sorted(probes.values(), key=lambda p: p.coarseness)
    pairs = itertools.pairwise(ordered)
    a, b = min(pairs, key=lambda pair: pair[1].coarseness - pair[0].coarseness)
    measured = (a.score.mean - b.score.mean) / (b.coarseness - a.coarseness)
    return max(0.2, min(4.0, measured))


@contextlib.contextmanager
def scratch_dir() -> Iterator[Path]:
    """A private folder for one search's samples, removed after it; named with this process's id, so a
    node that was killed mid-search has its leftovers removed at its next start (``remove_leftovers``)."""
    path = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def remove_leftovers(root: Path | None = None) -> int:
    """Remove the sample folders of search processes that are gone; how many."""
    root = root or Path(tempfile.gettempdir())
    removed = 0
    for path in root.glob(f"{SCRATCH_PREFIX}*"):
        pid = path.name.removeprefix(SCRATCH_PREFIX).split("-", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        try:
            st = path.lstat()
        except OSError:
            continue
        # Only a real folder of this user's: a shared temporary folder is anyone's to plant names in, and a
        # symlink named like ours must not lead the removal elsewhere.
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
