"""Every message that crosses the bus: events (facts, past tense) and commands (imperative).

Evolution rules: a new field gets a default; a field never changes type; a tag is never reused.
The JSON Schema snapshot in ``schema.json`` makes every change show up in review.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class Message(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every bus message. ``event_id`` is sent as ``Nats-Msg-Id`` for de-duplication."""

    event_id: str = msgspec.field(default_factory=new_id)
    occurred_at: datetime = msgspec.field(default_factory=utcnow)


# --- media (scanner → scheduler) -------------------------------------------------------------


class StreamInfo(msgspec.Struct, frozen=True, kw_only=True):
    index: int
    kind: str  # video | audio | subtitle | attachment | data
    codec: str
    attached_pic: bool = False
    language: str | None = None
    width: int | None = None
    height: int | None = None
    # video: e.g. yuv420p10le, when the probe can tell without decoding (HEVC and AV1 say it in their headers)
    pix_fmt: str | None = None
    color_transfer: str | None = None  # video: e.g. smpte2084 (PQ, HDR10) or arib-std-b67 (HLG)


class MediaProbe(msgspec.Struct, frozen=True, kw_only=True):
    container: str
    duration: float | None
    video_codec: str | None
    width: int | None = None
    height: int | None = None
    bit_rate: int | None = None
    streams: tuple[StreamInfo, ...] = ()

    def count(self, kind: str) -> int:
        return sum(1 for s in self.streams if s.kind == kind)


class FileIdentity(msgspec.Struct, frozen=True, kw_only=True):
    """What a file was when it was looked at; a replace checks it has not changed since."""

    size: int
    mtime_ns: int
    inode: int


class MediaProbed(Message, frozen=True, kw_only=True, tag="media.probed"):
    path: str
    identity: FileIdentity
    probe: MediaProbe
    library: str | None = None  # the library folder the file lies in
    media_type: str | None = None  # that folder's type: movies | tv | music_videos | mixed
    # Size plus hashes of a few sampled blocks: the same content under another name (a rename, a move).
    fingerprint: str | None = None


class MediaProbeFailed(Message, frozen=True, kw_only=True, tag="media.probe_failed"):
    path: str
    identity: FileIdentity
    error: str
    library: str | None = None


class ScanCompleted(Message, frozen=True, kw_only=True, tag="media.scan_completed"):
    scan_id: str
    roots: tuple[str, ...]
    seen: int
    probed: int
    unchanged: int
    failed: int
    elapsed_seconds: float
    cancelled: bool = False  # stopped on request: what it did not reach is neither probed nor forgotten


# --- control (commands) -----------------------------------------------------------------------


class ScanRequested(Message, frozen=True, kw_only=True, tag="scan.requested"):
    roots: tuple[str, ...] = ()  # empty: every library folder
    force: bool = False


class ScanCancelRequested(Message, frozen=True, kw_only=True, tag="scan.cancel"):
    """Stop the scan ``scan_id`` (a ``ScanRequested``'s event id), running or still waiting its turn."""

    scan_id: str


# --- cleanup (cleanup ↔ scheduler) -------------------------------------------------------------


class CleanupScanRequested(Message, frozen=True, kw_only=True, tag="cleanup.scan"):
    """Look for stale files under the media paths: temporary outputs (``.tmp_*``) and ``.lock`` files
    untouched for longer than the cleanup service's ``STALE_AFTER_HOURS``."""


class StaleFileFound(Message, frozen=True, kw_only=True, tag="cleanup.found"):
    """A stale file; the scheduler records it as a cleanup job awaiting a user's approval."""

    path: str
    identity: FileIdentity
    why: str  # one line for the queue, e.g. "temporary file untouched for 3 days"


class CleanupScanCompleted(Message, frozen=True, kw_only=True, tag="cleanup.scan_completed"):
    scan_id: str  # the CleanupScanRequested's event id
    found: int
    size: int  # bytes the found files take
    elapsed_seconds: float
    unreadable: tuple[str, ...] = ()  # folders that could not be listed


# --- work (scheduler → encoder, cleanup) --------------------------------------------------------


class TranscodeRequested(Message, frozen=True, kw_only=True, tag="work.transcode"):
    job_id: int
    attempt: int
    path: str
    identity: FileIdentity
    probe: MediaProbe
    target_codec: str = "hevc"  # hevc | av1
    hw_class: str = "cpu"


class CleanupRequested(Message, frozen=True, kw_only=True, tag="work.cleanup"):
    """Delete a stale file a user approved; only if it is still what was found (``identity``)."""

    job_id: int
    attempt: int
    path: str
    identity: FileIdentity


# --- job lifecycle (encoder, cleanup → scheduler, history) ------------------------------------


class JobStarted(Message, frozen=True, kw_only=True, tag="job.started"):
    job_id: int
    attempt: int
    delivery: int
    node: str
    path: str


class JobCompleted(Message, frozen=True, kw_only=True, tag="job.completed"):
    job_id: int
    attempt: int
    node: str
    path: str
    output_path: str
    encoder: str
    codec_before: str | None
    codec_after: str
    size_before: int
    size_after: int
    duration: float | None
    elapsed_seconds: float
    fallback_reason: str | None = None  # why the job's hardware class gave way to the CPU
    vmaf: float | None = None  # 0-100 on sampled segments, when measured (setting measure_vmaf)


class JobSkipped(Message, frozen=True, kw_only=True, tag="job.skipped"):
    job_id: int
    attempt: int
    node: str
    path: str
    reason: str
    size_before: int | None = None
    size_after: int | None = None


class JobFailed(Message, frozen=True, kw_only=True, tag="job.failed"):
    job_id: int
    attempt: int
    node: str
    path: str
    reason: str
    detail: str = ""
    retryable: bool = True


class CleanupFinished(Message, frozen=True, kw_only=True, tag="job.cleaned"):
    """A cleanup job's outcome: the file was removed (or was already gone), or it was kept and why."""

    job_id: int
    attempt: int
    node: str
    path: str
    removed: bool
    size: int = 0  # bytes freed
    reason: str = ""  # why it was kept, or "already gone"


MediaEvent = MediaProbed | MediaProbeFailed | ScanCompleted
ControlCommand = ScanRequested | ScanCancelRequested
CleanupEvent = CleanupScanRequested | StaleFileFound | CleanupScanCompleted
WorkMessage = TranscodeRequested | CleanupRequested
JobEvent = JobStarted | JobCompleted | JobSkipped | JobFailed | CleanupFinished
AnyMessage = MediaEvent | ControlCommand | CleanupEvent | WorkMessage | JobEvent
