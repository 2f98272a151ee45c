"""Every message that crosses the bus: events (facts) and commands (requests to act).

Naming, checked by the contract tests: a tag is ``<domain>.<name>``, where the domain is the first word of
the subjects it travels on (``media``, ``job``, ``queue``, ``scan``, ``cleanup``, ``work``,
``backup``).

- An **event** says what happened, in the past tense: ``media.probed``, ``job.cleanup_finished``. Its class
  is the name in CamelCase, with the domain in front where the name alone would not say it
  (``MediaProbed``, ``CleanupFinished``). An event travels on the subject equal to its tag.
- A **command** says what to do, in the imperative: ``scan.start``, ``work.transcode``. Its class is the
  verb first (``StartScan``, ``Transcode``). Work goes to ``work.<kind>`` (a transcode to
  ``work.transcode.<class>``), a scan's cancel to ``scan.cancel.<scan id>``.

Evolution rules: a new field gets a default; a field never changes type; a tag is never reused.
The JSON Schema snapshot in ``schema.json`` makes every change show up in review.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from .enums import HwClass, JobChange, StreamKind
from .settings import MediaType, TargetCodec
from .stamps import new_id
from .stamps import utcnow as utcnow  # services stamp their own values with it
from .views import JobView


class Message(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every bus message. ``event_id`` is sent as ``Nats-Msg-Id``: the stream stores a message with
    an id it has seen in the last two minutes once, and every consumer records the ids it handled."""

    event_id: str = msgspec.field(default_factory=new_id)
    occurred_at: datetime = msgspec.field(default_factory=utcnow)


class Event(Message, frozen=True, kw_only=True):
    """A fact: something that happened. Its subscribers decide what it means to them."""


class Command(Message, frozen=True, kw_only=True):
    """A request to act, addressed to whichever service owns that work."""


# --- media (scanner → scheduler) -------------------------------------------------------------


class StreamInfo(msgspec.Struct, frozen=True, kw_only=True):
    index: int
    kind: StreamKind
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


class MediaProbed(Event, frozen=True, kw_only=True, tag="media.probed"):
    path: str
    identity: FileIdentity
    probe: MediaProbe
    library: str | None = None  # the library folder the file lies in
    media_type: MediaType | None = None  # that folder's type
    # Size plus hashes of a few sampled blocks: the same content under another name (a rename, a move).
    fingerprint: str | None = None


class MediaProbeFailed(Event, frozen=True, kw_only=True, tag="media.probe_failed"):
    path: str
    identity: FileIdentity
    error: str
    library: str | None = None


class ScanCompleted(Event, frozen=True, kw_only=True, tag="media.scan_completed"):
    scan_id: str
    roots: tuple[str, ...]
    seen: int
    probed: int
    unchanged: int
    failed: int
    elapsed_seconds: float
    cancelled: bool = False  # stopped on request: what it did not reach is neither probed nor forgotten


# --- scans (gateway → scanner) ----------------------------------------------------------------


class StartScan(Command, frozen=True, kw_only=True, tag="scan.start"):
    """Scan the library folders (or ``roots`` inside them); its event id is the scan's id."""

    roots: tuple[str, ...] = ()  # empty: every library folder
    force: bool = False


class CancelScan(Command, frozen=True, kw_only=True, tag="scan.cancel"):
    """Stop the scan ``scan_id`` (a ``StartScan``'s event id), running or still waiting its turn."""

    scan_id: str


# --- cleanup (cleanup ↔ scheduler) -------------------------------------------------------------


class FindStaleFiles(Command, frozen=True, kw_only=True, tag="cleanup.find_stale_files"):
    """Look for stale files under the media paths: temporary outputs (``.tmp_*``) and ``.lock`` files
    untouched for longer than the ``cleanup`` setting's ``stale_after_hours``."""


class StaleFileFound(Event, frozen=True, kw_only=True, tag="cleanup.stale_file_found"):
    """A stale file; the scheduler records it as a cleanup job awaiting a user's approval."""

    path: str
    identity: FileIdentity
    why: str  # one line for the queue, e.g. "temporary file untouched for 3 days"


class CleanupScanCompleted(Event, frozen=True, kw_only=True, tag="cleanup.scan_completed"):
    scan_id: str  # the FindStaleFiles' event id
    found: int
    size: int  # bytes the found files take
    elapsed_seconds: float
    unreadable: tuple[str, ...] = ()  # folders that could not be listed


# --- work (scheduler → encoder, cleanup) --------------------------------------------------------


class Transcode(Command, frozen=True, kw_only=True, tag="work.transcode"):
    """Encode one attempt of a job; its event id is ``<job>:<attempt>@<class>`` (one per class it went to)."""

    job_id: int
    attempt: int
    path: str
    identity: FileIdentity
    probe: MediaProbe
    target_codec: TargetCodec = "hevc"
    hw_class: HwClass = HwClass.CPU


class RemoveStaleFile(Command, frozen=True, kw_only=True, tag="work.remove_stale_file"):
    """Delete a stale file a user approved; only if it is still what was found (``identity``)."""

    job_id: int
    attempt: int
    path: str
    identity: FileIdentity


# --- job reports (encoder, cleanup → scheduler, history) ----------------------------------------
# An outcome names the delivery it comes from: with the attempt and the node, that is who asked for the
# commit, and the scheduler counts an outcome only from its holder (architecture §3.3). None: a worker older
# than the fencing, whose outcome the scheduler ignores.


class JobStarted(Event, frozen=True, kw_only=True, tag="job.started"):
    job_id: int
    attempt: int
    delivery: int
    node: str
    path: str


class JobCompleted(Event, frozen=True, kw_only=True, tag="job.completed"):
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
    delivery: int | None = None
    # The last lines ffmpeg wrote (warnings and errors), kept with the file's history entry.
    ffmpeg_log: str | None = None


class JobSkipped(Event, frozen=True, kw_only=True, tag="job.skipped"):
    job_id: int
    attempt: int
    node: str
    path: str
    reason: str
    size_before: int | None = None
    size_after: int | None = None
    delivery: int | None = None


class JobFailed(Event, frozen=True, kw_only=True, tag="job.failed"):
    job_id: int
    attempt: int
    node: str
    path: str
    reason: str
    detail: str = ""
    retryable: bool = True
    delivery: int | None = None


class CleanupFinished(Event, frozen=True, kw_only=True, tag="job.cleanup_finished"):
    """A cleanup job's outcome: the file was removed (or was already gone), or it was kept and why."""

    job_id: int
    attempt: int
    node: str
    path: str
    removed: bool
    size: int = 0  # bytes freed
    reason: str = ""  # why it was kept, or "already gone"
    delivery: int | None = None


JobReport = JobStarted | JobCompleted | JobSkipped | JobFailed | CleanupFinished


def report_id(kind: type[JobReport], job_id: int, attempt: int, delivery: int | None = None) -> str:
    """A report's deterministic event id, ``<job>:<attempt>:<outcome>`` (``started`` adds the delivery: a
    redelivery to another node is news). A report published twice is stored and handled once."""
    outcome = str(kind.__struct_config__.tag).partition(".")[2]
    return f"{job_id}:{attempt}:{outcome}" + (f":{delivery}" if delivery is not None else "")


# --- the record (scheduler → gateway, integrations) --------------------------------------------


class JobStateChanged(Event, frozen=True, kw_only=True, tag="queue.job_state_changed"):
    """The scheduler's record of a job changed. Published through its outbox, in the transaction that
    made the change, with event id ``<job>:v<version>``: ``job.version`` grows with every change, so a
    subscriber keeps the newest it has seen. ``job`` is the record after the change (before it, for
    ``removed``)."""

    change: JobChange
    job: JobView


# --- backups (the backup duty → dashboard, notifications) ----------------------------------------


class BackupCompleted(Event, frozen=True, kw_only=True, tag="backup.completed"):
    """A backup file was written and checked: its name in the backup folder and its size."""

    name: str
    size: int
    trigger: str  # schedule, api, cli
    elapsed_seconds: float


class BackupFailed(Event, frozen=True, kw_only=True, tag="backup.failed"):
    """A backup could not be made; ``reason`` says why (never a secret)."""

    trigger: str
    reason: str


MediaEvent = MediaProbed | MediaProbeFailed | ScanCompleted
ScanCommand = StartScan | CancelScan
CleanupMessage = FindStaleFiles | StaleFileFound | CleanupScanCompleted
WorkMessage = Transcode | RemoveStaleFile
QueueEvent = JobStateChanged
BackupEvent = BackupCompleted | BackupFailed
AnyMessage = MediaEvent | ScanCommand | CleanupMessage | WorkMessage | JobReport | QueueEvent | BackupEvent
