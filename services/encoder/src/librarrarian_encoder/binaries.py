"""The ffmpeg this node runs for each hardware class and for VMAF: what each purpose needs, chosen once at
start among the candidates (``FFMPEG_PATH``; else the system build, then the bundled one), then proved
per class by the test encodes."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from librarrarian_contracts.topology import HwClass
from librarrarian_contracts.views import FfmpegUse
from librarrarian_media.ffmpeg_builds import Build
from librarrarian_media.ffmpeg_choice import Need, Use, choose

from . import vmaf
from .hardware import Detection
from .profiles import PROFILES

log = logging.getLogger(__name__)

VMAF = "vmaf"
# The argv builder's -fps_mode (variable frame rate kept) came with FFmpeg 5.1; older builds know -vsync only.
ARGV_OPTIONS = frozenset({"fps_mode"})


def need_of(hw: HwClass) -> Need:
    """A class's encoders and the argv's options; the CPU's encoders must also keep HDR10 (README: it is
    kept) and write Dolby Vision, which a build's ``-encoders`` list does not tell."""
    encoders = [profile.encoder for (profile_hw, _), profile in PROFILES.items() if profile_hw is hw]
    cpu = encoders if hw is HwClass.CPU else ()
    return Need.of(encoders=encoders, options=ARGV_OPTIONS, hdr10=cpu, dolby_vision=cpu)


@dataclass(frozen=True)
class Binaries:
    """Purpose (a class's value, or ``vmaf``) -> the binary chosen for it, among ``builds``."""

    uses: Mapping[str, Use]
    builds: tuple[Build, ...]

    def for_class(self, hw: HwClass | str) -> str:
        return self.uses[HwClass(hw).value].path

    def writes_dolby_vision(self, hw: HwClass | str, encoder: str) -> bool:
        """Whether the class's binary makes ``encoder`` write Dolby Vision (``-dolbyvision``)."""
        return encoder in self.uses[HwClass(hw).value].build.capabilities.dolby_vision

    @property
    def vmaf(self) -> str:
        return self.uses[VMAF].path

    def to_try(self, classes: Iterable[HwClass]) -> dict[HwClass, tuple[str, ...]]:
        """Class -> its preferred binary, then the other candidates that list any of its encoders."""
        order = {}
        for hw in classes:
            preferred = self.uses[hw.value].build
            encoders = need_of(hw).encoders
            others = (
                b.path for b in self.builds if b is not preferred and encoders & b.capabilities.encoders
            )
            order[hw] = (preferred.path, *others)
        return order

    def proven(self, detections: Sequence[Detection]) -> Binaries:
        """Each class bound to the binary whose test encodes passed, where that is not the preferred one."""
        uses = dict(self.uses)
        for found in detections:
            if found.instead_of is None:
                continue
            build = next(b for b in self.builds if b.path == found.ffmpeg)
            why = f"its test encodes passed where {found.instead_of.ffmpeg}'s did not ({found.instead_of.detail})"
            # Better than not encoding at all, but said: the CPU class may lose HDR10 with such a build.
            lacking = need_of(found.hw).lacking(build)
            if lacking:
                why += f", though it lacks {', '.join(lacking)}"
            uses[found.hw.value] = Use(found.hw.value, build, why, lacking)
        return replace(self, uses=uses)

    def shown(self, classes: Iterable[HwClass]) -> tuple[FfmpegUse, ...]:
        """What the node card says: the binary of each bound class and of VMAF, and why."""
        return tuple(
            FfmpegUse(
                purpose=use.purpose,
                path=use.path,
                version=use.build.capabilities.version,
                origin=use.build.origin,
                why=use.why,
            )
            for use in (*(self.uses[hw.value] for hw in classes), self.uses[VMAF])
        )


def chosen(builds: Sequence[Build]) -> Binaries:
    """Every purpose's binary among ``builds``, each logged once with its reason."""
    uses = {hw.value: choose(hw.value, need_of(hw), builds) for hw in HwClass}
    uses[VMAF] = choose(VMAF, vmaf.NEED, builds)
    for use in uses.values():
        log.info("%s", use.describe())
    return Binaries(uses, tuple(builds))
