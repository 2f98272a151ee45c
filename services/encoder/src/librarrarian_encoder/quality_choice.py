"""Which quality level a job is encoded at, and the :class:`QualityChoice` it reports: the fixed level of the
settings, or (``quality_mode`` target) the level a search found, started where the last file of the same
series folder, resolution and encoder ended (the ``quality`` bucket).

Target mode is not applied where VMAF cannot judge: HDR sources (PQ or HLG; the model was trained on SDR
pictures) and nodes without libvmaf keep the fixed level, and the choice says why. A search that fails (a
sample that cannot be encoded or scored) also falls back to the fixed level: it costs the file its saving,
never its encode.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec
from librarrarian_contracts import StreamInfo, Transcode, topology
from librarrarian_contracts.quality import QualityChoice, QualityMemory, memory_key
from librarrarian_contracts.settings import Quality, TranscodeSettings, tier_of
from librarrarian_media import reading
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from . import ffmpeg, quality_samples, quality_search, vmaf
from .profiles import Profile

log = logging.getLogger(__name__)

HDR_TRANSFERS = {"smpte2084", "arib-std-b67"}  # PQ (HDR10, HDR10+, Dolby Vision's base) and HLG
HDR_NOTE = "HDR source: kept at the fixed level (VMAF cannot judge PQ or HLG pictures)"


@dataclass(frozen=True)
class Chosen:
    """The quality to encode with and how it was chosen; by target, with the search behind it (its probes'
    sizes estimate the fixed level's, its slope the step of the one finer encode a missed target gets)."""

    quality: Quality
    choice: QualityChoice
    scale: quality_search.Scale | None = None
    found: quality_search.Found | None = None

    @classmethod
    def fixed(cls, quality: Quality, note: str = "") -> Chosen:
        choice = QualityChoice(mode="fixed", level=quality.level, fixed_level=quality.level, note=note)
        return cls(quality, choice)

    @property
    def by_target(self) -> bool:
        return self.choice.mode == "target" and self.choice.target is not None

    def redo(self, score: vmaf.Score | None) -> Chosen | None:
        """What the check says of the finished file: the finer quality to encode it again at, when it missed
        its target (once); None when it did not, or cannot be helped."""
        if score is None or not self.by_target or not quality_search.misses(score, self.choice.target or 0.0):
            return None
        return self.finer(score)

    def finer(self, score: vmaf.Score) -> Chosen | None:
        """After a missed target: the level finer by as many steps as the gap needs at the search's slope
        (at least one), once; None when already done, or when the level is the finest allowed."""
        if not self.by_target or self.choice.reencoded or self.scale is None or self.found is None:
            return None
        target = self.choice.target or 0.0
        gap = max(
            target - score.mean,
            target - quality_search.WORST_ALLOWANCE - score.worst,
            target - quality_search.LOW_ALLOWANCE - score.low,
        )
        step = max(1, math.ceil(gap / self.found.slope))
        here = self.scale.coarseness(self.quality.level)
        there = self.scale.clamp(here - step)
        if there == here:
            return None
        level = self.scale.level(there)
        choice = msgspec.structs.replace(self.choice, level=level, predicted=None, reencoded=True)
        return Chosen(msgspec.structs.replace(self.quality, level=level), choice, self.scale, self.found)

    def outcome(self, score: vmaf.Score | None, size_after: int) -> QualityChoice:
        """The choice as reported: with what the check measured, and the output's size at the fixed level
        (its own, in fixed mode; estimated from the samples' sizes, by target)."""
        choice = self.choice
        if score is not None:
            choice = msgspec.structs.replace(choice, measured=score.mean, low=score.low, worst=score.worst)
        fixed_bytes: int | None = size_after if choice.level == choice.fixed_level else None
        if fixed_bytes is None and self.scale is not None and self.found is not None:
            ratio = self.found.size_ratio(self.scale, choice.fixed_level, choice.level)
            fixed_bytes = None if ratio is None else round(size_after * ratio)
        return msgspec.structs.replace(choice, fixed_bytes=fixed_bytes)


class SearchMemory:
    """The ``quality`` bucket: best effort both ways (a search that cannot remember starts from the fixed
    level, which costs a probe or two, never a job)."""

    def __init__(self, js: JetStreamContext) -> None:
        self.js = js
        self._kv: KeyValue | None = None

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            self._kv = await self.js.key_value(topology.QUALITY.name)
        return self._kv

    async def recall(self, key: str) -> QualityMemory | None:
        try:
            entry = await (await self._bucket()).get(key)
            return msgspec.json.decode(entry.value or b"", type=QualityMemory)
        except KeyNotFoundError:
            return None
        except Exception as error:  # noqa: BLE001 - best effort (see the class)
            log.warning("quality memory not read: %s", error)
            return None

    async def remember(self, key: str, memory: QualityMemory) -> None:
        try:
            await (await self._bucket()).put(key, msgspec.json.encode(memory))
        except Exception as error:  # noqa: BLE001 - best effort (see the class)
            log.warning("quality memory not written: %s", error)


def is_hdr(request: Transcode) -> bool:
    videos = [s for s in request.probe.streams if s.kind == "video" and not s.attached_pic]
    return bool(videos) and videos[0].color_transfer in HDR_TRANSFERS


def memory_key_for(
    request: Transcode, source: Path, profile: Profile, quality: Quality, target: float
) -> str:
    probe = request.planned()
    tier = tier_of(probe.width, probe.height)
    return memory_key(str(source.parent), tier.value, profile.encoder, quality.preset, target)


async def choose(
    request: Transcode,
    settings: TranscodeSettings,
    profile: Profile,
    *,
    source: Path,
    original: int,
    encoder_ffmpeg: str,
    vmaf_ffmpeg: str,
    memory: SearchMemory | None,
    started: Callable[[ffmpeg.Encoding], None] | None = None,
    progress: Callable[[float], Awaitable[None]] | None = None,
) -> Chosen:
    """The quality to encode ``request`` with on ``profile``, and how it was chosen. ``original`` is the
    source's open descriptor (``source`` its path as this node reaches it, for the series memory)."""
    probe = request.planned()
    fixed = settings.quality_for(profile.family, probe.width, probe.height)
    if settings.quality_mode != "target":
        return Chosen.fixed(fixed)
    target = settings.target_vmaf
    if is_hdr(request):
        return Chosen.fixed(fixed, HDR_NOTE)
    if not vmaf.available(vmaf_ffmpeg):
        note = "no ffmpeg with libvmaf on this node: kept at the fixed level"
        return Chosen.fixed(fixed, note)
    scale = quality_search.Scale.of(profile.family, settings.levels_for(profile.family))
    key = memory_key_for(request, source, profile, fixed, target)
    remembered = await memory.recall(key) if memory is not None else None
    start = remembered.level if remembered is not None else fixed.level
    videos = [s for s in probe.streams if s.kind == "video" and not s.attached_pic]
    odd = bool(videos) and bool((videos[0].width or 0) % 2 or (videos[0].height or 0) % 2)
    with quality_samples.scratch_dir() as scratch:
        sampler = quality_samples.Sampler(
            encoder_ffmpeg,
            vmaf_ffmpeg,
            reading.descriptor_path(original),
            request.probe.container,
            profile,
            fixed,
            odd,
            scratch,
            pass_fds=(original,),
            started=started,
            frame_bytes=_frame_bytes(videos[0] if videos else None),
        )
        try:
            found = await quality_search.search(
                sampler,
                scale,
                target,
                probe.duration,
                start,
                progress=progress,
                reused=remembered is not None,
            )
        except (quality_samples.SearchError, OSError, ValueError) as error:
            note = f"quality search failed ({error}): kept at the fixed level"
            log.warning("job %d: %s", request.job_id, note)
            return Chosen.fixed(fixed, note)
    if memory is not None and found.score is not None:
        remembered_now = QualityMemory(level=found.level, score=found.score.mean, folder=str(source.parent))
        await memory.remember(key, remembered_now)
    choice = QualityChoice(
        mode="target",
        level=found.level,
        fixed_level=fixed.level,
        target=target,
        predicted=found.score.mean if found.score is not None else None,
        samples=sampler.made,
        search_seconds=found.seconds,
        reused=remembered is not None,
        note=found.note,
    )
    return Chosen(msgspec.structs.replace(fixed, level=found.level), choice, scale, found)


def _frame_bytes(video: StreamInfo | None) -> int | None:
    """One decoded picture's size: 4:2:0 at 8 bits is 1.5 bytes a pixel; anything more, 3 (an upper bound)."""
    if video is None or not video.width or not video.height:
        return None
    plain = video.pix_fmt in (None, "yuv420p", "yuvj420p", "nv12")
    return int(video.width * video.height * (1.5 if plain else 3))
