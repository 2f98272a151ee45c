"""Quality by target against one fixed CRF: what the search chooses, what the finished files measure, what they
weigh, and what the search costs.

Clips of different kinds (animation, camera footage, low resolution, film grain, dark scenes, fast motion,
synthetic pictures, a 1080p upscale) are made at the start from the shared footage and lavfi sources
(H.264, CRF 16, so the originals are good). Each is encoded as target mode does it (libx265, the default
preset, target VMAF 95): the search from the fixed default level, the whole file at the level found, the check
(``vmaf.measure_segments``, what the encoder runs after an encode) and, on a miss, the one finer encode. Video
only: audio would weigh the same in both modes.

The baseline, in the same run, is the best one fixed CRF can do: the coarsest CRF at which every clip's whole
encode passes the same judgment (``quality_search.passes``), and the clips' sizes at that CRF. Each clip's
coarsest passing CRF is found by whole encodes around the level the search found (up while it passes, down
while it fails), only for the clips that can set the minimum; encodes are shared between both sides.

A "season" (episodes cut at different offsets from the same looped footage) is searched in turn, each search
starting where the previous one ended (the encoder's series memory), against each searched from the fixed
level.

Prints the tables and the goals, and saves ``bench/out/quality.json`` and ``quality.txt``.
``BENCH_QUALITY_SECONDS`` sets the clips' length (30).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import msgspec
from librarrarian_contracts.quality import QualityChoice
from librarrarian_contracts.settings import EncoderFamily, Quality, Tier, TranscodeSettings, tier_of
from librarrarian_contracts.topology import HwClass
from librarrarian_encoder import quality_samples, quality_search, vmaf
from librarrarian_encoder.profiles import PROFILES
from librarrarian_encoder.quality_choice import Chosen
from librarrarian_media import probe

from .load.figures import table

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LIBRARRARIAN_SHARED_MEDIA", ROOT.parent / "shared" / "media"))
OUT = ROOT / "bench" / "out"
SECONDS = float(os.environ.get("BENCH_QUALITY_SECONDS", "30"))
EPISODES = 4
FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()  # the static build: libx265 and libvmaf
SETTINGS = TranscodeSettings()  # the defaults: fixed levels by tier, the search's range, the target
FAMILY = EncoderFamily.X265
PROFILE = PROFILES[(HwClass.CPU, "hevc")]
SCALE = quality_search.Scale.of(FAMILY, SETTINGS.levels_for(FAMILY))
TARGET = SETTINGS.target_vmaf
PRESET = SETTINGS.quality_for(FAMILY, 1920, 1080).preset
TIERS = tuple(Tier)  # smallest first
# The goals.
MEAN_ALLOWANCE = 1.0  # every finished file's mean at least the target less this
BYTES_RATIO = 0.85  # all outputs together at most this share of the baseline's
SEARCH_SHARE = 0.30  # a search at most this share of its file's encode time
REUSE_RATIO = 0.5  # a search started from the previous episode's level at most this share of a fresh one

BUNNY = SHARED / "bigbuckbunny.mp4"  # 1280x720, 5.3 s, animation
BIKES = SHARED / "bikes.mp4"  # 640x272, 10 s, camera footage


@dataclass(frozen=True)
class Recipe:
    """How one clip is made: a looped shared clip (or a lavfi source) through a filter."""

    name: str
    kind: str
    source: Path | str  # a file, looped; or a lavfi graph
    vf: str
    start: float = 0.0  # seconds into the looped source (the season's episodes)


RECIPES = (
    Recipe("bunny-720p", "animation", BUNNY, "null"),
    Recipe("bikes-272p", "camera footage", BIKES, "null"),
    Recipe("bikes-204p", "low resolution", BIKES, "scale=480:204:flags=lanczos"),
    Recipe("bikes-grain", "film grain", BIKES, "noise=alls=12:allf=t+u"),
    Recipe("bunny-dark", "dark scenes", BUNNY, "scale=960:540:flags=lanczos,eq=brightness=-0.25:gamma=0.6"),
    # Twice the speed, kept at 25 fps: every other frame dropped, twice the motion between frames.
    Recipe("bunny-fast", "fast motion", BUNNY, "setpts=0.5*PTS"),
    Recipe("testsrc2-720p", "synthetic", "testsrc2=size=1280x720:rate=25", "null"),
    Recipe("bunny-1080p", "upscale", BUNNY, "scale=1920:1080:flags=lanczos"),
)
SEASON = "scale=640:360:flags=lanczos"  # the episodes are searched only, never encoded whole: kept small


@dataclass(frozen=True)
class Clip:
    name: str
    kind: str
    path: Path
    width: int
    height: int
    seconds: float

    @property
    def tier(self) -> str:
        return tier_of(self.width, self.height).value

    @property
    def fixed(self) -> Quality:
        """What fixed mode encodes this clip with (its tier's default level and the preset)."""
        return SETTINGS.quality_for(FAMILY, self.width, self.height)


def run(*argv: str | Path) -> None:
    subprocess.run([str(a) for a in argv], check=True, stdin=subprocess.DEVNULL)


def make_clip(folder: Path, recipe: Recipe, seconds: float) -> Clip:
    """An H.264 original of ``seconds``, always re-encoded (a copied loop would break its timestamps)."""
    path = folder / f"{recipe.name}.mp4"
    source: list[str | Path]
    if isinstance(recipe.source, Path):
        source = ["-stream_loop", "-1", "-i", recipe.source]
    else:
        source = ["-f", "lavfi", "-i", recipe.source]
    run(FFMPEG, "-hide_banner", "-v", "error", "-y", *source, "-ss", f"{recipe.start:g}", "-t", f"{seconds:g}",
        "-map", "0:v:0", "-vf", f"{recipe.vf},format=yuv420p", "-r", "25", "-c:v", "libx264",
        "-preset", "veryfast", "-crf", "16", "-an", path)  # fmt: skip
    made = probe(path)
    return Clip(recipe.name, recipe.kind, path, made.width or 0, made.height or 0, seconds)


# Whole encodes ----------------------------------------------------------------------------------------------


@dataclass
class Encoded:
    level: int
    bytes: int
    seconds: float
    score: vmaf.Score


@dataclass
class Encodes:
    """Every whole encode made, by clip and level: the target side and the baseline share them."""

    folder: Path
    made: dict[tuple[str, int], Encoded] = field(default_factory=dict)

    def at(self, clip: Clip, level: int) -> Encoded:
        key = (clip.name, level)
        if key not in self.made:
            self.made[key] = self._encode(clip, level)
        return self.made[key]

    def levels(self, clip: Clip) -> dict[int, Encoded]:
        return {level: e for (name, level), e in self.made.items() if name == clip.name}

    def _encode(self, clip: Clip, level: int) -> Encoded:
        out = self.folder / f"{clip.name}-{level}.mkv"
        quality = msgspec.structs.replace(clip.fixed, level=level)
        began = time.monotonic()
        run(FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-y", *PROFILE.input_args(), "-i", clip.path,
            "-map", "0:v:0", *PROFILE.video_args(0, quality), *PROFILE.global_args(),
            "-fps_mode", "passthrough", out)  # fmt: skip
        seconds = time.monotonic() - began
        score = vmaf.measure_segments(FFMPEG, clip.path, out, clip.seconds)
        if score is None:
            raise RuntimeError(f"{out.name}: VMAF could not be measured")
        size = out.stat().st_size
        out.unlink()  # only its size and score are kept
        print(
            f"    {clip.name} CRF {level}: {size / 1e6:.2f} MB in {seconds:.1f} s, VMAF {score.mean}",
            flush=True,
        )
        return Encoded(level, size, round(seconds, 2), score)


# Target mode ------------------------------------------------------------------------------------------------


async def search(clip: Clip, start: int, reused: bool = False) -> tuple[quality_search.Found, int]:
    """The encoder's search on ``clip`` from ``start`` (``reused``: a level the series proved, as the encoder
    searches from its memory); what it found and how many sample encodes it made."""
    odd = bool(clip.width % 2 or clip.height % 2)
    with quality_samples.scratch_dir() as scratch:
        sampler = quality_samples.Sampler(
            FFMPEG, FFMPEG, str(clip.path), None, PROFILE, clip.fixed, odd, scratch,
            frame_bytes=clip.width * clip.height * 3 // 2,  # 8-bit 4:2:0, as quality_choice works it out
        )  # fmt: skip
        found = await quality_search.search(sampler, SCALE, TARGET, clip.seconds, start, reused=reused)
    return found, sampler.made


@dataclass
class Targeted:
    """One clip in target mode: the search, the first whole encode, the finer one after a miss (or None)."""

    found: quality_search.Found
    samples: int
    first: Encoded
    reencoded: Encoded | None

    @property
    def final(self) -> Encoded:
        return self.reencoded or self.first

    @property
    def search_share(self) -> float:
        return round(self.found.seconds / self.first.seconds, 3)


async def target_mode(clip: Clip, encodes: Encodes) -> Targeted:
    """Search, encode at the level found, check; one finer encode on a miss, by the encoder's own rule."""
    fixed = clip.fixed
    found, samples = await search(clip, fixed.level)
    result = Targeted(found, samples, encodes.at(clip, found.level), None)
    choice = QualityChoice(mode="target", level=found.level, fixed_level=fixed.level, target=TARGET)
    chosen = Chosen(msgspec.structs.replace(fixed, level=found.level), choice, SCALE, found)
    finer = chosen.redo(result.first.score)  # the pipeline's own judgment of the check
    if finer is not None:
        result.reencoded = encodes.at(clip, finer.quality.level)
    print(
        f"  {clip.name}: level {found.level} ({samples} probes, {found.seconds:.1f} s), measured "
        f"{result.final.score.mean}" + (f", again at {result.final.level}" if result.reencoded else ""),
        flush=True,
    )
    return result


# The baseline: one fixed CRF for every clip -----------------------------------------------------------------


def coarsest_known(clip: Clip, encodes: Encodes) -> int | None:
    """The coarsest CRF this clip's whole encodes passed at so far (None: none yet)."""
    good = [level for level, e in encodes.levels(clip).items() if quality_search.passes(e.score, TARGET)]
    return max(good, default=None)


def next_level(clip: Clip, encodes: Encodes) -> int | None:
    """Where to encode next to pin this clip's coarsest passing CRF down; None once it is known (or nothing in
    the range passes)."""
    finest, coarsest = SCALE.bounds
    tried = encodes.levels(clip)
    good = coarsest_known(clip, encodes)
    if good is None:
        below = min(tried) - 1  # everything tried failed: go finer
        return below if below >= finest else None
    return good + 1 if good < coarsest and good + 1 not in tried else None


def coarsest_for_all(clips: list[Clip], encodes: Encodes) -> int | None:
    """The coarsest CRF at which every clip passes: the smallest of their coarsest passing CRFs. Only the clip
    that could set the minimum is encoded further (the one whose known passing CRF is lowest), until its own
    is exact; the others are known to pass there already. None when some clip passes at no CRF in range."""
    while True:
        lowest = min(clips, key=lambda c: _or_below_range(coarsest_known(c, encodes)))
        level = next_level(lowest, encodes)
        if level is None:
            return coarsest_known(lowest, encodes)
        encodes.at(lowest, level)


def _or_below_range(level: int | None) -> int:
    return SCALE.bounds[0] - 1 if level is None else level


def clip_floor(clip: Clip, encodes: Encodes) -> str:
    """This clip's coarsest passing CRF as far as the baseline needed it: exact, or a lower bound."""
    good = coarsest_known(clip, encodes)
    if good is None:
        return "none"
    return str(good) if next_level(clip, encodes) is None else f"≥{good}"


# The season -------------------------------------------------------------------------------------------------


async def season(folder: Path) -> list[dict[str, object]]:
    """Episodes searched in turn from the previous one's level, against each from the fixed level. The first
    episode has nothing to start from: one search stands for both."""
    episodes = [
        make_clip(
            folder, Recipe(f"episode-{k + 1}", "season", BUNNY, SEASON, start=k * (SECONDS + 1.7)), SECONDS
        )
        for k in range(EPISODES)
    ]
    rows: list[dict[str, object]] = []
    remembered: int | None = None
    for episode in episodes:
        fresh, fresh_samples = await search(episode, episode.fixed.level)
        start, (chained, chained_samples) = episode.fixed.level, (fresh, fresh_samples)
        if remembered is not None:
            start, (chained, chained_samples) = remembered, await search(episode, remembered, reused=True)
        if chained.score is not None:  # what the memory keeps: a level whose samples passed
            remembered = chained.level
        rows.append({
            "episode": episode.name,
            "reused_start": start,
            "fresh": {"level": fresh.level, "probes": fresh_samples, "seconds": fresh.seconds},
            "reused": {"level": chained.level, "probes": chained_samples, "seconds": chained.seconds},
            "ratio": round(chained.seconds / fresh.seconds, 3),
        })  # fmt: skip
        print(
            f"  {episode.name}: fresh level {fresh.level} in {fresh.seconds:.1f} s ({fresh_samples} probes); "
            f"from the last level {chained.level} in {chained.seconds:.1f} s ({chained_samples} probes)",
            flush=True,
        )
    return rows


# The report -------------------------------------------------------------------------------------------------


Row = dict[str, object]


def clip_rows(clips: list[Clip], results: dict[str, Targeted], encodes: Encodes, base: int) -> list[Row]:
    rows = []
    for clip in clips:
        r = results[clip.name]
        found, first, final = r.found, r.first, r.final
        baseline = encodes.at(clip, base)
        rows.append({
            "clip": clip.name,
            "kind": clip.kind,
            "size": f"{clip.width}x{clip.height}",
            "s": f"{clip.seconds:g}",
            "fixed": clip.fixed.level,
            "found": found.level,
            "probes": r.samples,
            "predicted": found.score.mean if found.score else None,
            "mean/low/worst": f"{final.score.mean}/{final.score.low}/{final.score.worst}",
            "again": f"→{final.level}" if r.reencoded else "no",
            "coarsest ok": clip_floor(clip, encodes),
            "MB target": round(final.bytes / 1e6, 2),
            f"MB CRF {base}": round(baseline.bytes / 1e6, 2),
            "search s": round(found.seconds, 1),
            "encode s": round(first.seconds, 1),
            "share": round(r.search_share, 2),
        })  # fmt: skip
    return rows


def exact(clip: Clip, encodes: Encodes) -> int | None:
    """This clip's own coarsest passing CRF, encoded until it is exact (for the typical level of a tier)."""
    while (level := next_level(clip, encodes)) is not None:
        encodes.at(clip, level)
    return coarsest_known(clip, encodes)


def typical(clips: list[Clip], encodes: Encodes) -> int | None:
    """The tier's typical level: the lower median of its clips' own coarsest passing CRFs (the finer of the
    middle two), which half its kinds of content or more pass at."""
    levels = [exact(c, encodes) for c in clips]
    return None if None in levels else statistics.median_low([lv for lv in levels if lv is not None])


def tier_rows(
    clips: list[Clip],
    floors: dict[str, int | None],
    typicals: dict[str, int | None],
    results: dict[str, Targeted],
    encodes: Encodes,
) -> list[Row]:
    rows = []
    for tier, floor in floors.items():
        members = [c for c in clips if c.tier == tier]
        rows.append({
            "tier": tier,
            "clips": ", ".join(c.name for c in members),
            "default CRF": members[0].fixed.level,
            "found by search": ", ".join(str(results[c.name].found.level) for c in members),
            "coarsest passing, each": ", ".join(str(coarsest_known(c, encodes)) for c in members),
            "on all (safe)": floor if floor is not None else "none in range",
            "typical (median)": typicals[tier] if typicals[tier] is not None else "none in range",
        })  # fmt: skip
    return rows


def goals(document: dict[str, Any]) -> list[tuple[str, bool, str]]:
    clips = document["clips"]
    low = [c["clip"] for c in clips if c["final"]["score"]["mean"] < TARGET - MEAN_ALLOWANCE]
    slow = [c["clip"] for c in clips if c["search_share"] > SEARCH_SHARE]
    later = document["season"][1:]
    not_halved = [e["episode"] for e in later if e["ratio"] > REUSE_RATIO]
    ratio = document["totals"]["bytes_ratio"]
    return [
        (f"every clip measured mean ≥ {TARGET - MEAN_ALLOWANCE:g}", not low, ", ".join(low) or "all"),
        (f"total bytes ≤ {BYTES_RATIO} × baseline", ratio <= BYTES_RATIO, f"{ratio:.3f} ×"),
        (f"search ≤ {SEARCH_SHARE:.0%} of the encode, per clip", not slow,
         f"over: {', '.join(slow)}" if slow else "every clip"),
        (f"reuse: search ≤ {REUSE_RATIO} × fresh, episodes 2-{EPISODES}", not not_halved,
         ", ".join(str(e["ratio"]) for e in later)),
    ]  # fmt: skip


def text(document: dict[str, Any], rows: list[Row], tiers: list[Row]) -> str:
    totals = document["totals"]
    season_rows = [
        {
            "episode": e["episode"],
            "fresh level": e["fresh"]["level"],
            "fresh probes": e["fresh"]["probes"],
            "fresh s": round(e["fresh"]["seconds"], 1),
            "reused level": e["reused"]["level"],
            "reused probes": e["reused"]["probes"],
            "reused s": round(e["reused"]["seconds"], 1),
            "ratio": e["ratio"],
        }
        for e in document["season"]
    ]
    lines = [
        f"quality: {len(rows)} clips of {SECONDS:g} s, libx265 -preset {PRESET}, video only, target "
        f"VMAF {TARGET:g}; baseline: one fixed CRF for every clip, CRF {document['baseline_crf']}",
        "",
        table(rows),
        "",
        f"  totals: target {totals['bytes_target'] / 1e6:.2f} MB, CRF {document['baseline_crf']} "
        f"{totals['bytes_baseline'] / 1e6:.2f} MB (ratio {totals['bytes_ratio']:.3f}); search "
        f"{totals['search_seconds']:.1f} s, encode {totals['encode_seconds']:.1f} s "
        f"(share {totals['search_share']:.2f}); {totals['whole_encodes']} whole encodes in all",
        "",
        "fixed-mode defaults by tier: each clip's coarsest passing CRF (whole encodes), the coarsest passing on all of",
        "the tier's clips (safe) and the lower median (typical content, what the defaults are taken from):",
        table(tiers),
        "",
        f"season: {EPISODES} episodes, searched from the previous episode's level against from the fixed level:",
        table(season_rows),
        "",
        "goals:",
        *(
            f"  {'met    ' if met else 'NOT met'}  {goal}: {detail}"
            for goal, met, detail in document["goals"]
        ),
        "",
        f"  {document['seconds']:.0f} s in all",
    ]
    return "\n".join(lines)


async def main() -> None:
    if not vmaf.available(FFMPEG):
        raise SystemExit(f"{FFMPEG} has no libvmaf")
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        folder = Path(tmp)
        print(f"quality: making {len(RECIPES)} clips of {SECONDS:g} s …", flush=True)
        clips = [make_clip(folder, recipe, SECONDS) for recipe in RECIPES]
        encodes = Encodes(folder)
        print(f"quality: target mode (VMAF {TARGET:g}) …", flush=True)
        results = {clip.name: await target_mode(clip, encodes) for clip in clips}
        print("quality: the baseline (the coarsest CRF that passes on every clip) …", flush=True)
        tiers = sorted({c.tier for c in clips}, key=lambda t: TIERS.index(Tier(t)))
        floors = {t: coarsest_for_all([c for c in clips if c.tier == t], encodes) for t in tiers}
        known = [f for f in floors.values() if f is not None]
        # A clip that passes nowhere in range: the finest CRF is as close as one fixed CRF gets.
        base = min(known) if len(known) == len(floors) else SCALE.bounds[0]
        for clip in clips:
            encodes.at(clip, base)  # the baseline's own size for every clip
        print("quality: each clip's own coarsest passing CRF (the tiers' typical level) …", flush=True)
        typicals = {t: typical([c for c in clips if c.tier == t], encodes) for t in tiers}
        rows = clip_rows(clips, results, encodes, base)
        print(f"quality: the season ({EPISODES} episodes) …", flush=True)
        episodes = await season(folder)
    bytes_target = sum(r.final.bytes for r in results.values())
    bytes_baseline = sum(encodes.at(c, base).bytes for c in clips)
    search_seconds = sum(r.found.seconds for r in results.values())
    encode_seconds = sum(r.first.seconds for r in results.values())
    document: dict[str, Any] = {
        "when": datetime.now().isoformat(timespec="seconds"),
        "command": "python -m bench quality",
        "ffmpeg": FFMPEG,
        "encoder": PROFILE.encoder,
        "preset": PRESET,
        "target": TARGET,
        "clip_seconds": SECONDS,
        "baseline_crf": base,
        "tier_floors": floors,
        "tier_typical": typicals,
        "clips": [
            {
                "clip": c.name,
                "kind": c.kind,
                "width": c.width,
                "height": c.height,
                "tier": c.tier,
                "fixed_level": c.fixed.level,
                **asdict(results[c.name]),
                "final": asdict(results[c.name].final),
                "coarsest_passing": clip_floor(c, encodes),
                "baseline": asdict(encodes.at(c, base)),
                "search_share": results[c.name].search_share,
                "whole_encodes": [asdict(e) for e in encodes.levels(c).values()],
            }
            for c in clips
        ],
        "totals": {
            "bytes_target": bytes_target,
            "bytes_baseline": bytes_baseline,
            "bytes_ratio": round(bytes_target / bytes_baseline, 3),
            "search_seconds": round(search_seconds, 1),
            "encode_seconds": round(encode_seconds, 1),
            "search_share": round(search_seconds / encode_seconds, 3),
            "whole_encodes": len(encodes.made),
        },
        "season": episodes,
        "seconds": round(time.monotonic() - began, 1),
    }
    document["goals"] = goals(document)
    report = text(document, rows, tier_rows(clips, floors, typicals, results, encodes))
    print("\n" + report)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "quality.json").write_text(json.dumps(document, indent=2) + "\n")
    (OUT / "quality.txt").write_text(report + "\n")
    print(f"\nsaved {OUT / 'quality.json'} and .txt")
