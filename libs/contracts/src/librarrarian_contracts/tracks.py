"""A transcode's track plan: which audio and subtitle streams a library folder's rules keep. Pure, so the
scheduler plans with it when it queues a job (the plan is shown before the job runs) and the encoder maps and
verifies exactly what it says.

The original language is the one the file says it is: its default audio track's language, else its first
audio track's. Files rarely mark it otherwise (the ``original`` disposition is almost never set), and a
film's first or default audio track is its original soundtrack far more often than a dub.
"""

from __future__ import annotations

import msgspec

from .messages import MediaProbe, StreamInfo
from .settings import TrackRules

# Subtitles that are pictures: they cannot be turned into text, and some containers cannot hold them.
IMAGE_SUBTITLES = frozenset({"hdmv_pgs_subtitle", "dvd_subtitle", "dvb_subtitle", "xsub"})
UNDETERMINED = frozenset({"", "und", "mis", "mul", "zxx"})

# ISO 639-2 has two codes for some languages (bibliographic "fre", terminologic "fra"); files use both, and
# two-letter ISO 639-1 codes now and then. Each maps to one form, so a rule's "fra" keeps a "fre" track.
_SAME = {
    "alb": "sqi", "arm": "hye", "baq": "eus", "bur": "mya", "chi": "zho", "cze": "ces", "dut": "nld",
    "fre": "fra", "geo": "kat", "ger": "deu", "gre": "ell", "ice": "isl", "mac": "mkd", "mao": "mri",
    "may": "msa", "per": "fas", "rum": "ron", "slo": "slk", "tib": "bod", "wel": "cym",
    "ar": "ara", "cs": "ces", "da": "dan", "de": "deu", "el": "ell", "en": "eng", "es": "spa", "fi": "fin",
    "fr": "fra", "he": "heb", "hi": "hin", "hu": "hun", "it": "ita", "ja": "jpn", "ko": "kor", "nl": "nld",
    "no": "nor", "pl": "pol", "pt": "por", "ru": "rus", "sv": "swe", "th": "tha", "tr": "tur", "uk": "ukr",
    "zh": "zho",
}  # fmt: skip


class Dropped(msgspec.Struct, frozen=True, kw_only=True):
    index: int
    why: str


class TrackPlan(msgspec.Struct, frozen=True, kw_only=True):
    """The audio and subtitle streams kept (indexes in the source, in order) and those dropped, with why."""

    keep: tuple[int, ...]
    dropped: tuple[Dropped, ...] = ()
    original_language: str | None = None


def language(code: str | None) -> str | None:
    """One spelling per language; None when the stream does not say."""
    code = (code or "").strip().lower()
    return None if code in UNDETERMINED else _SAME.get(code, code)


def is_commentary(stream: StreamInfo) -> bool:
    return stream.comment or "commentary" in (stream.title or "").lower()


def original_language(probe: MediaProbe) -> str | None:
    audio = [s for s in probe.streams if s.kind == "audio"]
    first = next((s for s in audio if s.default), audio[0] if audio else None)
    return language(first.language) if first is not None else None


def plan(probe: MediaProbe, rules: TrackRules | None) -> TrackPlan | None:
    """The plan for ``probe`` under ``rules``; None when every stream stays (no rule, or none drops one)."""
    if rules is None or rules.keeps_everything():
        return None
    wanted = {language(code) for code in rules.languages} - {None}
    original = original_language(probe)
    keep: list[int] = []
    dropped: list[Dropped] = []

    def why_not(stream: StreamInfo) -> str | None:
        if rules.drop_commentary and is_commentary(stream):
            return "commentary"
        if stream.kind == "subtitle" and not rules.image_subtitles and stream.codec in IMAGE_SUBTITLES:
            return f"image subtitle ({stream.codec})"
        spoken = language(stream.language)
        if wanted and spoken is not None and spoken not in wanted and spoken != original:
            return f"language {stream.language}"
        return None

    audio = [s for s in probe.streams if s.kind == "audio"]
    subtitles = [s for s in probe.streams if s.kind == "subtitle"]
    kept_audio = [s.index for s in audio if why_not(s) is None]
    if audio and not kept_audio:
        # Never a silent film: the original soundtrack (else the first) stays whatever the rules say.
        rescued = next(
            (s for s in audio if language(s.language) == original and not is_commentary(s)), audio[0]
        )
        kept_audio = [rescued.index]
    for stream in audio:
        if stream.index in kept_audio:
            keep.append(stream.index)
        else:
            dropped.append(Dropped(index=stream.index, why=why_not(stream) or "not wanted"))
    for stream in subtitles:
        reason = why_not(stream)
        if reason is None:
            keep.append(stream.index)
        else:
            dropped.append(Dropped(index=stream.index, why=reason))
    if not dropped:
        return None
    return TrackPlan(keep=tuple(keep), dropped=tuple(dropped), original_language=original)


def describe(probe: MediaProbe, track_plan: TrackPlan) -> tuple[str, ...]:
    """One line per dropped stream, as the job's plan shows it: ``drop audio #3 (fra, "Commentary"):
    commentary``."""
    by_index = {s.index: s for s in probe.streams}
    lines = []
    for drop in track_plan.dropped:
        stream = by_index.get(drop.index)
        if stream is None:
            continue
        label = ", ".join(x for x in (stream.language, f'"{stream.title}"' if stream.title else None) if x)
        lines.append(f"drop {stream.kind} #{drop.index}{f' ({label})' if label else ''}: {drop.why}")
    return tuple(lines)
