"""What to do with a file the scanner reported: pure decisions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from librarrarian_contracts import MediaProbed, MediaProbeFailed
from librarrarian_contracts.settings import TranscodeSettings

DEFAULTS = TranscodeSettings()

TARGET_CODECS = {"hevc", "av1"}


@dataclass(frozen=True)
class Known:
    """What the scheduler already knows of a path (its newest job)."""

    status: str
    source_size: int | None
    source_mtime_ns: int | None
    output_path: str | None
    size_after: int | None
    job_id: int | None = None
    source_links: int | None = None  # None: decided before link counts were kept


@dataclass(frozen=True)
class SameContent:
    """A job whose source, or whose output, had the fingerprint of the file just probed (under another
    path: a rename or a move)."""

    job_id: int
    status: str
    path: str  # the job's source path
    as_output: bool  # the fingerprint is the one of the job's output


@dataclass(frozen=True)
class Transcode:
    pass


@dataclass(frozen=True)
class Skip:
    reason: str


@dataclass(frozen=True)
class Fail:
    reason: str


@dataclass(frozen=True)
class Ignore:
    why: str


Decision = Transcode | Skip | Fail | Ignore

# A job whose output waits for review is the file's job still: a scan finding the file adds nothing.
ACTIVE = {"pending", "running", "ready_to_replace"}


def decide(
    event: MediaProbed | MediaProbeFailed,
    newest: Known | None,
    produced: Known | None,
    sibling_in_flight: bool = False,
    settings: TranscodeSettings = DEFAULTS,
    same_content: SameContent | None = None,
) -> Decision:
    """``newest``: the newest job for this path; ``produced``: a done job whose output is this path;
    ``sibling_in_flight``: a job is running for a file of the same name with another extension (an ``.avi``
    whose ``.mkv`` output this may be, seen before that job reported its completion); ``same_content``: a
    done or active job for another path whose source or output had this file's fingerprint."""
    identity = event.identity
    if produced is not None and produced.size_after == identity.size:
        return Ignore("our own output")
    if newest is not None:
        if newest.status in ACTIVE:
            return Ignore("a job for this file is already in flight")
        if (newest.source_size, newest.source_mtime_ns) == (identity.size, identity.mtime_ns) and (
            newest.source_links in (None, identity.links)
        ):
            return Ignore("already decided for this version of the file")
    if isinstance(event, MediaProbeFailed):
        return Fail(event.error)
    if same_content is not None:
        if same_content.as_output:
            return Ignore(f"our own output (job {same_content.job_id}), renamed or moved")
        if same_content.status in ACTIVE:
            return Skip(f"same content as {same_content.path}, in flight as job {same_content.job_id}")
        return Skip(f"same content as {same_content.path}, already transcoded by job {same_content.job_id}")
    codec = event.probe.video_codec
    if codec in TARGET_CODECS and sibling_in_flight:
        return Ignore("the output of a job still in flight")
    eligible, why_not = settings.eligible(codec)
    if not eligible:
        return Skip(why_not)
    spoiled = _would_spoil(event, settings)
    if spoiled is not None:
        return Skip(spoiled)
    minimum = settings.min_size_mb * 1_000_000
    if identity.size < minimum:
        return Skip(
            f"smaller than the minimum size ({identity.size / 1e6:.1f} MB < {settings.min_size_mb:g} MB)"
        )
    return Transcode()


def _would_spoil(event: MediaProbed, settings: TranscodeSettings) -> str | None:
    """Why transcoding this file would spoil it, or lose the user more than it saves; None when it would not."""
    links = event.identity.links
    if links > 1 and not settings.replace_hard_links:
        return f"hard-linked: {links} links; replacing one keeps the old data alive through the others"
    vision = event.probe.dolby_vision()
    if vision is None:
        return None
    if vision.dv_profile == 5:
        return (
            "Dolby Vision profile 5: it has no HDR10 or SDR base layer, and a re-encode without its Dolby Vision "
            "layer shows wrong colours"
        )
    if settings.skip_dolby_vision:
        return f"Dolby Vision profile {vision.dv_profile}: Dolby Vision files are set to be skipped"
    return None
