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
    pix_fmt: str | None = None  # video: e.g. yuv420p10le; decides 10-bit output for HDR sources
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


# --- work (scheduler → encoder) ---------------------------------------------------------------


class TranscodeRequested(Message, frozen=True, kw_only=True, tag="work.transcode"):
    job_id: int
    attempt: int
    path: str
    identity: FileIdentity
    probe: MediaProbe
    target_codec: str = "hevc"  # hevc | av1
    hw_class: str = "cpu"


# --- job lifecycle (encoder → scheduler, history) ---------------------------------------------


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


MediaEvent = MediaProbed | MediaProbeFailed | ScanCompleted
ControlCommand = ScanRequested | ScanCancelRequested
WorkMessage = TranscodeRequested
JobEvent = JobStarted | JobCompleted | JobSkipped | JobFailed
AnyMessage = MediaEvent | ControlCommand | WorkMessage | JobEvent
