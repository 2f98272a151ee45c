"""What to do with a file the scanner reported: pure decisions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from librarrarian_contracts import MediaProbed, MediaProbeFailed

TARGET_CODECS = {"hevc": "HEVC", "av1": "AV1"}


@dataclass(frozen=True)
class Known:
    """What the scheduler already knows of a path (its newest job)."""

    status: str
    source_size: int | None
    source_mtime_ns: int | None
    output_path: str | None
    size_after: int | None


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

ACTIVE = {"pending", "running"}


def decide(
    event: MediaProbed | MediaProbeFailed,
    newest: Known | None,
    produced: Known | None,
    sibling_in_flight: bool = False,
) -> Decision:
    """``newest``: the newest job for this path; ``produced``: a done job whose output is this path;
    ``sibling_in_flight``: a job is running for a file of the same name with another extension (an ``.avi``
    whose ``.mkv`` output this may be, seen before that job reported its completion)."""
    identity = event.identity
    if produced is not None and produced.size_after == identity.size:
        return Ignore("our own output")
    if newest is not None:
        if newest.status in ACTIVE:
            return Ignore("a job for this file is already in flight")
        if (newest.source_size, newest.source_mtime_ns) == (identity.size, identity.mtime_ns):
            return Ignore("already decided for this version of the file")
    if isinstance(event, MediaProbeFailed):
        return Fail(event.error)
    codec = event.probe.video_codec
    if codec is None:
        return Skip("no video stream")
    if codec in TARGET_CODECS:
        if sibling_in_flight:
            return Ignore("the output of a job still in flight")
        return Skip(f"already {TARGET_CODECS[codec]}")
    return Transcode()
