"""The quality search's logic on modelled encoders (a score that falls a set number of points a level), its
sampling plan, its judgments, the one finer encode after a miss, and the sample command lines of every
encoder family (the hardware ones cannot run here; their quality options must still be theirs)."""

from __future__ import annotations

from pathlib import Path

import pytest
from librarrarian_contracts.quality import QualityChoice
from librarrarian_contracts.settings import EncoderFamily, LevelRange, Quality, TranscodeSettings
from librarrarian_contracts.topology import HwClass
from librarrarian_encoder import quality_samples, quality_search
from librarrarian_encoder.profiles import profile_for
from librarrarian_encoder.quality_choice import Chosen
from librarrarian_encoder.vmaf import Score

X265 = quality_search.Scale.of(EncoderFamily.X265, LevelRange(best=16, worst=34))


def flat(mean: float) -> Score:
    return Score(mean=round(mean, 2), low=round(mean - 1, 2), worst=round(mean - 0.3, 2), segments=3)


class Modelled:
    """Stands for ``Sampler``: VMAF ``at_16`` at level 16, ``slope`` points less each level coarser; bytes
    halve every six levels."""

    def __init__(self, at_16: float, slope: float, low_dip: float = 1.0, encode: float | None = None) -> None:
        self.at_16, self.slope, self.low_dip = at_16, slope, low_dip
        self.levels: list[int] = []
        self.made = 0
        self.now = 0.0  # each probe takes a second
        self.encode = encode  # the whole file's estimated encode, in seconds; None: no budget

    def clock(self) -> float:
        return self.now

    async def encode_estimate(self, duration: float | None) -> float | None:
        return self.encode

    async def prepare(self, spans: list[tuple[float | None, float]]) -> None:
        self.spans = spans

    async def probe(self, level: int) -> tuple[Score, int]:
        self.levels.append(level)
        self.made += 1
        self.now += 1.0
        mean = self.at_16 - self.slope * (level - 16)
        return Score(mean=mean, low=mean - self.low_dip, worst=mean - 0.3, segments=3), int(
            1_000_000 * 2 ** (-(level - 16) / 6)
        )


async def find(
    model: Modelled, start: int, scale: quality_search.Scale = X265, *, reused: bool = False
) -> quality_search.Found:
    return await quality_search.search(
        model,  # type: ignore[arg-type]
        scale,
        95.0,
        3600.0,
        start,
        reused=reused,
        clock=model.clock,
    )


@pytest.mark.parametrize(("at_16", "slope"), [(99.0, 0.6), (97.0, 0.4), (100.0, 1.5), (98.5, 0.25)])
async def test_the_search_ends_at_the_coarsest_level_that_passes(at_16: float, slope: float) -> None:
    model = Modelled(at_16, slope)
    found = await find(model, 24)
    coarsest_passing = max(level for level in range(16, 35) if at_16 - slope * (level - 16) >= 95.0)
    assert found.score is not None and found.score.mean >= 95.0
    # Within the band, or bracketed by a failing neighbour: never more than a level from the best answer.
    assert coarsest_passing - 1 <= found.level <= coarsest_passing
    assert len(model.levels) <= quality_search.MAX_PROBES and model.levels[0] == 24


async def test_a_level_between_a_passing_and_a_failing_probe_is_read_off_their_line() -> None:
    # 95 at about 19.3, steeper than the first guess: from 16 the search jumps to 22, which fails. The line
    # between the two says 19 (95.5), and 20 would score 94: no third probe to confirm it.
    model = Modelled(100.0, 1.5)
    found = await find(model, 16)
    assert model.levels == [16, 22]
    assert found.level == 19 and found.score is not None and found.score.mean == 95.5
    assert "interpolated between the probes at 16 and 22" in found.note


async def test_a_search_stops_at_its_budget_once_a_level_passed() -> None:
    # A shallow slope: every probe passes and points further. A third probe would take the search past a
    # quarter of the encode (3 of 10 s): it keeps the coarsest level that passed.
    model = Modelled(99.0, 0.3, encode=10.0)
    found = await find(model, 16)
    assert model.levels == [16, 22] and found.level == 22
    unbounded = Modelled(99.0, 0.3)
    assert (await find(unbounded, 16)).level >= 28 and len(unbounded.levels) > 2  # what the budget saved
    # With no level passed yet, the budget does not stop it: a guess could cost a whole second encode.
    failing = Modelled(100.0, 1.5, encode=1.0)
    assert (await find(failing, 22)).level == 19 and len(failing.levels) > 1


async def test_a_reused_level_moves_one_coarser_on_the_slope_alone() -> None:
    model = Modelled(99.0, 0.6)  # 96.0 at 21: one level coarser still scores 95.4, above the aim
    found = await find(model, 21, reused=True)
    assert model.levels == [21] and found.level == 22
    assert found.score is not None and found.score.mean == 95.4 and "predicted" in found.note
    fresh = Modelled(99.0, 0.6)
    assert (await find(fresh, 21)).level == 22 and fresh.levels == [21, 22]  # a fresh search probes it
    steep = Modelled(99.0, 1.5)  # two levels off: probed, not predicted
    await find(steep, 17, reused=True)
    assert len(steep.levels) > 1


async def test_a_remembered_level_needs_one_probe() -> None:
    model = Modelled(99.0, 0.6)  # 95 at about 22.7
    found = await find(model, 22)
    assert model.levels == [22] and found.level == 22


async def test_the_low_end_holds_a_level_back() -> None:
    # The mean passes at 22, but the frames' 5th percentile falls too far: the search goes finer.
    model = Modelled(99.0, 0.6, low_dip=quality_search.LOW_ALLOWANCE + 0.5)
    found = await find(model, 22)
    assert found.score is not None and found.level < 22
    assert found.score.low >= 95.0 - quality_search.LOW_ALLOWANCE


async def test_out_of_reach_targets_stop_at_the_bounds() -> None:
    hard = Modelled(93.0, 0.6)  # never 95, even at the finest level
    found = await find(hard, 24)
    assert found.level == 16 and "not reached" in found.note
    easy = Modelled(100.0, 0.05)  # 95 beyond the coarsest level allowed
    found = await find(easy, 24)
    assert found.level == 34 and found.score is not None


async def test_videotoolbox_searches_its_reversed_scale() -> None:
    scale = quality_search.Scale.of(EncoderFamily.VIDEOTOOLBOX, LevelRange(best=85, worst=40))

    class Reversed(Modelled):
        async def probe(self, level: int) -> tuple[Score, int]:
            return await super().probe(16 + (85 - level))  # 85 is as fine as 16

    model = Reversed(99.0, 0.6)
    found = await find(model, 75, scale)
    assert 40 <= found.level <= 85 and found.score is not None and found.score.mean >= 95.0
    assert found.level in (79, 78)  # 16 + (85 - level) = 22 or 23


def test_windows_spread_over_the_file_and_bound_the_share() -> None:
    assert quality_search.windows(None) == [(None, 0.0)]
    assert quality_search.windows(2.0) == [(None, 2.0)]  # too short to sample: whole
    hour = quality_search.windows(3600.0)
    assert len(hour) == 10 and all(length == quality_search.WINDOW_MAX_SECONDS for _, length in hour)
    starts = [start for start, _ in hour]
    assert starts == sorted(starts) and starts[0] > 0 and starts[-1] + 3.0 < 3600.0  # type: ignore[operator]
    minute = quality_search.windows(60.0)
    assert len(minute) == 4 and sum(length for _, length in minute) <= 0.07 * 60
    assert len(quality_search.windows(3600.0, fewer=True)) == 5, "a series' proven level: half the windows"
    assert len(quality_search.windows(60.0, fewer=True)) == 2


def test_the_check_judges_the_low_end_too() -> None:
    assert not quality_search.misses(flat(94.2), 95.0)
    assert quality_search.misses(flat(93.9), 95.0)
    dip = Score(mean=96.0, low=95.0 - 1 - quality_search.LOW_ALLOWANCE - 0.1, worst=95.5, segments=3)
    assert quality_search.misses(dip, 95.0), "a scene that looks bad is not hidden by the mean"
    bad_segment = Score(
        mean=96.0, low=90.0, worst=95.0 - 1 - quality_search.WORST_ALLOWANCE - 0.1, segments=3
    )
    assert quality_search.misses(bad_segment, 95.0)


def _chosen(level: int, found: quality_search.Found) -> Chosen:
    choice = QualityChoice(mode="target", level=level, fixed_level=24, target=95.0, predicted=95.4)
    return Chosen(Quality(level=level, preset="medium"), choice, X265, found)


def test_a_miss_is_encoded_again_finer_once() -> None:
    found = quality_search.Found(24, flat(95.4), [], 1.0, slope=0.5)
    finer = _chosen(24, found).finer(flat(93.6))  # 1.4 under the target: 3 levels at 0.5 a level
    assert finer is not None and finer.quality.level == 21 and finer.choice.reencoded
    assert finer.finer(flat(93.0)) is None, "once only"
    at_the_floor = _chosen(16, found).finer(flat(90.0))
    assert at_the_floor is None


def test_the_outcome_estimates_the_fixed_levels_size() -> None:
    probes = [
        quality_search.Probe(20, flat(96.5), 2_000_000),
        quality_search.Probe(24, flat(94.0), 1_000_000),
    ]
    found = quality_search.Found(22, flat(95.2), probes, 1.0, slope=0.6)
    outcome = _chosen(22, found).outcome(flat(95.1), 1_400_000)
    assert outcome.measured == 95.1 and outcome.low == 94.1 and outcome.worst == 94.8
    # log-linear between the probes: level 24 is 2 ** (-2/4) of level 22
    assert outcome.fixed_bytes == round(1_400_000 * 2 ** (-0.5))
    fixed = Chosen.fixed(Quality(level=24)).outcome(None, 1_000)
    assert (fixed.mode, fixed.level, fixed.fixed_bytes, fixed.measured) == ("fixed", 24, 1_000, None)


@pytest.mark.parametrize(
    ("hw", "expected"),
    [
        (HwClass.CPU, ["-c:v:0", "libx265", "-preset:v:0", "medium", "-crf:v:0", "27"]),
        (HwClass.NVENC, ["-c:v:0", "hevc_nvenc", "-preset:v:0", "p5", "-rc:v:0", "vbr", "-cq:v:0", "27"]),
        (HwClass.QSV, ["-c:v:0", "hevc_qsv", "-preset:v:0", "medium", "-global_quality:v:0", "27"]),
        (HwClass.VAAPI, ["-c:v:0", "hevc_vaapi", "-rc_mode:v:0", "CQP", "-qp:v:0", "27"]),
        (HwClass.VIDEOTOOLBOX, ["-c:v:0", "hevc_videotoolbox", "-q:v:0", "27"]),
    ],
)
def test_each_encoder_samples_on_its_own_scale(hw: HwClass, expected: list[str], tmp_path: Path) -> None:
    profile = profile_for(hw, "hevc")
    assert profile is not None
    settings = TranscodeSettings()
    fixed = settings.quality_for(profile.family, 1920, 1080)
    sampler = quality_samples.Sampler(
        "ffmpeg", "ffmpeg", "/proc/self/fd/9", None, profile, fixed, False, tmp_path
    )
    argv = sampler.encode_argv(27, tmp_path / "sample.mkv")
    at = argv.index("-c:v:0")
    assert argv[at : at + len(expected)] == expected
    assert argv[argv.index("-i") + 1] == str(tmp_path / "reference.mkv"), (
        "samples come from the cut reference"
    )
    if hw is HwClass.VAAPI:
        assert argv[argv.index("-vaapi_device") + 1] == "/dev/dri/renderD128"
    assert (
        argv[-1] == str(tmp_path / "sample.mkv")
        and "-map" in argv
        and argv[argv.index("-map") + 1] == "0:v:0"
    )
