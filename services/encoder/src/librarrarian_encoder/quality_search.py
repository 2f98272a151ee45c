"""Quality by target: the coarsest level of the node's own encoder whose samples still look as good as asked.

A few short windows spread over the file are encoded at a candidate level, exactly as the whole file will be
(same encoder, preset and options, the video stream alone), and scored against the same windows of the
original with libvmaf, every frame. Scores fall as the level coarsens, nearly in a straight line over the few
levels that matter, so each next level is read off the line through the nearest two probes (the first guess
takes ``SLOPE`` points a level), and the search stops once a probe lands just above the target or two
neighbouring levels bracket it. What it costs is bounded: ``MAX_PROBES`` levels of a sampled share of the
file (``windows``), and no probe once the search would pass ``SEARCH_SHARE`` of the encode (estimated from the
samples' own encode speed); a passing and a failing level apart give the level by the line between them. A search that starts where the last file of the same series ended (``start``) usually
needs one probe, and moves one level coarser on the slope alone. The samples themselves are
``quality_samples``'s.

A level is judged by its low end too, not by the mean alone (``passes``): the worst window and the 5th
percentile of the frames must stay near the target, so a scene that looks bad is not hidden by easy ones.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from librarrarian_contracts.settings import EncoderFamily, LevelRange

from . import vmaf
from .quality_samples import Sampler

# Each window: a share of the file, within bounds; their number grows with the length. Four at least: on a
# short file each is short, and more of them cover more of its scenes for the same cost.
WINDOW_SHARE = 0.015
WINDOW_MIN_SECONDS = 0.5
WINDOW_MAX_SECONDS = 3.0
WINDOWS_MIN, WINDOWS_MAX = 4, 10
SECONDS_PER_WINDOW = 300.0
MAX_PROBES = 4
# The search's budget: this share of the encode it serves (estimated from the samples' own encode speed). A
# probe that would overrun it is not made; the level is then read off the probes made.
SEARCH_SHARE = 0.25
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
    clock: Callable[[], float] = time.monotonic,
) -> Found:
    """The coarsest level within ``scale`` whose samples pass ``target``, starting at ``start_level`` (with
    ``reused``: the level the series' last search ended at, checked on fewer windows). Once a passing and
    a failing probe lie around the target, more than a level apart, the level is read off the straight line
    between them; probes also stop at ``max_probes``, and once a level passed, at the budget
    (``SEARCH_SHARE`` of the encode). A reused level that passes by more than a level's worth moves one
    level coarser on the slope's prediction alone. The check after the encode keeps the guarantee."""
    began = clock()
    await sampler.prepare(windows(duration, fewer=reused))
    prepared = clock()
    probes: dict[int, Probe] = {}
    slope = SLOPE
    finest, coarsest = scale.bounds
    here = scale.clamp(scale.coarseness(start_level))
    predicted: tuple[int, vmaf.Score, str] | None = None
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
        if high - low <= 1:
            break
        if good and bad and (between := _interpolated(probes[low], probes[high], target, scale)):
            predicted = between  # the straight line between two probes around the target says enough
            break
        guess = here + math.floor((score.mean - target - AIM) / slope)
        # A level that failed only by its low end still has to go finer, one that passed coarser.
        guess = max(guess, here + 1) if passes(score, target) else min(guess, here - 1)
        guess = max(here - MAX_STEP, min(here + MAX_STEP, guess))
        guess = max(low + 1, min(high - 1, guess))  # strictly inside what is still unknown
        if reused and len(probes) == 1 and guess == here + 1:
            shifted = _shifted(score, slope)
            if passes(shifted, target + AIM):
                note = f"level {scale.level(guess)} predicted one coarser than the series' last ({scale.level(here)})"
                predicted = (guess, shifted, note)
                break
        spent = clock() - began
        per_probe = (clock() - prepared) / len(probes)
        budget = await sampler.encode_estimate(duration)
        # Over budget, the search stops once a level passed: without one, its answer would be a guess, and a
        # missed check costs a whole second encode, far more than a probe.
        over = budget is not None and spent + per_probe > SEARCH_SHARE * budget and bool(good)
        if len(probes) >= max_probes or over:
            if good and bad:
                predicted = _interpolated(probes[max(good)], probes[min(bad)], target, scale)
            break
        if guess == here or guess in probes:
            break
        here = guess
    good = [c for c, p in probes.items() if passes(p.score, target)]
    found = Found(0, None, sorted(probes.values(), key=lambda p: p.coarseness), 0.0, slope)
    if predicted is not None:
        chosen, found.score, found.note = predicted
        found.level = scale.level(chosen)
    elif good:
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
    found.seconds = round(clock() - began, 3)
    return found


def _shifted(score: vmaf.Score, points: float) -> vmaf.Score:
    """``score`` one level coarser, at ``points`` a level (the low end alike)."""
    return vmaf.Score(
        mean=round(score.mean - points, 2),
        low=round(score.low - points, 2),
        worst=round(score.worst - points, 2),
        segments=score.segments,
    )


def _interpolated(good: Probe, bad: Probe, target: float, scale: Scale) -> tuple[int, vmaf.Score, str] | None:
    """Between a passing probe and a failing one more than a level coarser: the coarsest level whose score,
    on the straight line between theirs (mean and low end alike), passes ``target`` with the aim's margin."""
    span = bad.coarseness - good.coarseness
    for coarseness in range(bad.coarseness - 1, good.coarseness, -1):
        x = (coarseness - good.coarseness) / span

        def between(a: float, b: float, x: float = x) -> float:
            return round(a + (b - a) * x, 2)

        score = vmaf.Score(
            mean=between(good.score.mean, bad.score.mean),
            low=between(good.score.low, bad.score.low),
            worst=between(good.score.worst, bad.score.worst),
            segments=good.score.segments,
        )
        if passes(score, target + AIM):
            level, a, b = scale.level(coarseness), scale.level(good.coarseness), scale.level(bad.coarseness)
            return coarseness, score, f"level {level} interpolated between the probes at {a} and {b}"
    return None


def _slope(probes: dict[int, Probe], guess: float) -> float:
    """VMAF points lost per level, from the two probes nearest each other; bounded to what encoders do."""
    if len(probes) < 2:
        return guess
    ordered = sorted(probes.values(), key=lambda p: p.coarseness)
    pairs = itertools.pairwise(ordered)
    a, b = min(pairs, key=lambda pair: pair[1].coarseness - pair[0].coarseness)
    measured = (a.score.mean - b.score.mean) / (b.coarseness - a.coarseness)
    return max(0.2, min(4.0, measured))
