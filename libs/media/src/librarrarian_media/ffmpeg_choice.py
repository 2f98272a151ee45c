"""Which ffmpeg serves a purpose (a hardware class, VMAF, making test clips): pure decisions from probed
capabilities, preferring the system build where it can do the whole job, each with a reason to log."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from librarrarian_contracts.enums import FfmpegOrigin

from .ffmpeg_builds import Build, candidates


@dataclass(frozen=True)
class Need:
    """What a purpose asks of a binary."""

    encoders: frozenset[str] = frozenset()
    filters: frozenset[str] = frozenset()
    options: frozenset[str] = frozenset()  # without the dash
    hdr10: frozenset[str] = frozenset()  # encoders that must keep HDR10 mastering display and light level
    dolby_vision: frozenset[str] = frozenset()  # encoders that must write Dolby Vision

    @classmethod
    def of(
        cls,
        *,
        encoders: Iterable[str] = (),
        filters: Iterable[str] = (),
        options: Iterable[str] = (),
        hdr10: Iterable[str] = (),
        dolby_vision: Iterable[str] = (),
    ) -> Need:
        return cls(
            frozenset(encoders),
            frozenset(filters),
            frozenset(options),
            frozenset(hdr10),
            frozenset(dolby_vision),
        )

    def lacking(self, build: Build) -> tuple[str, ...]:
        """What ``build`` lacks of this, in words; empty when it can do the whole job."""
        can = build.capabilities
        if can.error is not None:
            return (f"a binary that runs ({can.error})",)
        missing = [f"encoder {name}" for name in sorted(self.encoders - can.encoders)]
        missing += [f"filter {name}" for name in sorted(self.filters - can.filters)]
        missing += [f"option -{name}" for name in sorted(self.options - can.options)]
        # An encoder that is missing altogether is said once, above.
        missing += [f"HDR10 side data in {n}" for n in sorted(self.hdr10 - can.hdr10) if n in can.encoders]
        missing += [
            f"Dolby Vision in {n}" for n in sorted(self.dolby_vision - can.dolby_vision) if n in can.encoders
        ]
        return tuple(missing)


@dataclass(frozen=True)
class Use:
    """The binary chosen for one purpose, why, and what it still lacks when no candidate had it all."""

    purpose: str
    build: Build
    why: str
    lacking: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return self.build.path

    def describe(self) -> str:
        """One log line."""
        return f"ffmpeg for {self.purpose}: {self.build.path} ({self.build.label}): {self.why}"


def choose(purpose: str, need: Need, builds: Sequence[Build]) -> Use:
    """The first build that can do the whole job (the system one comes first); when none can, the one that
    lacks the least, the earlier on a tie. ``FFMPEG_PATH``, when set, is the only build there is."""
    if not builds:
        raise ValueError("no ffmpeg to choose from")
    lacks = [(build, need.lacking(build)) for build in builds]
    if builds[0].origin is FfmpegOrigin.FFMPEG_PATH:
        build, missing = lacks[0]
        why = "FFMPEG_PATH overrides every other ffmpeg"
        return Use(purpose, build, why + (f", though it lacks {_words(missing)}" if missing else ""), missing)
    for index, (build, missing) in enumerate(lacks):
        if not missing:
            if index == 0:
                return Use(purpose, build, f"it has all that {purpose} needs")
            return Use(purpose, build, "; ".join(_lacks(*earlier) for earlier in lacks[:index]))
    build, missing = min(lacks, key=lambda lack: len(lack[1]))
    others = "; ".join(_lacks(*lack) for lack in lacks if lack[0] is not build)
    why = f"no ffmpeg here has all that {purpose} needs; this one lacks the least ({_words(missing)})"
    return Use(purpose, build, f"{why}; {others}" if others else why, missing)


def for_purpose(purpose: str, need: Need) -> Use:
    """The choice among this machine's candidates (each probed once per process)."""
    return choose(purpose, need, candidates())


def _lacks(build: Build, missing: tuple[str, ...]) -> str:
    return f"the {build.label} lacks {_words(missing)}"


def _words(missing: tuple[str, ...]) -> str:
    return ", ".join(missing)
