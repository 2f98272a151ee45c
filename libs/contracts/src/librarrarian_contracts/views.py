"""Values kept in KV buckets and the request/reply shapes of the query endpoints."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import msgspec

from .enums import ArrApp, FfmpegOrigin, HwClass, JobKind, JobStatus, NodeState
from .identity import FileIdentity
from .quality import QualityChoice
from .settings import ScheduleWindow
from .stamps import utcnow


class FfmpegUse(msgspec.Struct, frozen=True, kw_only=True):
    """Which ffmpeg a node runs for one purpose (a hardware class, or ``vmaf``), and why that one."""

    purpose: str  # a hardware class's value, or "vmaf"
    path: str
    version: str
    origin: FfmpegOrigin
    why: str


class ScheduleStatus(msgspec.Struct, frozen=True, kw_only=True):
    """A node's schedule as the node reads it: its windows, in its time zone, and where it stands in them.
    The times carry the node's UTC offset."""

    time_zone: str  # the node's IANA zone, e.g. Europe/Paris
    windows: tuple[ScheduleWindow, ...]
    open: bool  # inside a window now: the node may take work
    open_until: datetime | None = None  # when open: the end of the window it is in
    next_start: datetime | None = None  # the next window to open (after the current one)
    next_end: datetime | None = None


class NodeStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One encoder's live entry in the ``nodes`` bucket; it expires when the node stops writing it."""

    node: str
    hostname: str
    version: str
    classes: tuple[HwClass, ...]
    slots: int
    state: NodeState
    jobs: tuple[int, ...] = ()
    codecs: dict[HwClass, tuple[str, ...]] = {}  # class -> target codecs it encodes here
    unusable: dict[HwClass, str] = {}  # class -> why its test encode failed
    slots_per_class: dict[HwClass, int] = {}
    updated_at: datetime = msgspec.field(default_factory=utcnow)
    ffmpeg: tuple[FfmpegUse, ...] = ()  # the ffmpeg each bound class and VMAF run with, and why
    schedule: ScheduleStatus | None = None  # None: no schedule, the node takes work at any time
    # Why the node paused on its own ("someone is watching on Plex"); empty unless its state is
    # ``paused for playback``.
    paused_for: str = ""
    # Whether the node sees the library (``MEDIA_PATHS``): one that does not encodes segments only, reading
    # their source from the ``transfers`` store.
    library: bool = True


class JobProgress(msgspec.Struct, frozen=True, kw_only=True):
    """One running job's entry in the ``progress`` bucket."""

    job_id: int
    node: str
    path: str
    percent: float
    fps: float | None = None
    speed: float | None = None
    eta_seconds: float | None = None
    updated_at: datetime = msgspec.field(default_factory=utcnow)
    # ``searching``: the quality search's sample encodes (``percent`` is the search's own); then ``encoding``.
    phase: Literal["searching", "encoding"] = "encoding"
    # A file encoded in segments across nodes: how many of them are done, of how many, and the nodes
    # working on them (the percent is the done segments' share of the file).
    segments_done: int | None = None
    segments: int | None = None
    nodes: tuple[str, ...] = ()


class CommitRequest(msgspec.Struct, frozen=True, kw_only=True):
    """An encoder asks to replace the original for one delivery of one attempt (architecture §3.3)."""

    job_id: int
    attempt: int
    delivery: int
    node: str
    # The output about to take the original's place, as it is on disk (a rename keeps its inode, size and
    # mtime). A later delivery finding that file under the original's name knows the replace was done.
    output: FileIdentity | None = None


class CommitDecision(msgspec.Struct, frozen=True, kw_only=True):
    granted: bool
    reason: str = ""
    # With a grant: the outputs this job's grants were asked for, by any attempt (this one's included).
    outputs: tuple[FileIdentity, ...] = ()


# A job's types and states. Cleanup jobs, quality mismatches and (as each Arr app is set) renames wait for a
# user's approval before they are queued; transcodes are queued at once, unless held (``reason`` says why).
JOB_KINDS: tuple[JobKind, ...] = tuple(JobKind)
JOB_STATUSES: tuple[JobStatus, ...] = tuple(JobStatus)


class JobView(msgspec.Struct, frozen=True, kw_only=True):
    """A job as the scheduler records it: the queue's rows, and the body of every ``JobStateChanged``."""

    id: int
    kind: JobKind
    path: str
    status: JobStatus
    attempts: int
    node: str | None
    reason: str | None
    error_log: str | None
    codec_before: str | None
    size_before: int | None
    size_after: int | None
    output_path: str | None
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    retry_at: datetime | None = None  # pending after a failed attempt: when the next one may start
    version: int = 0  # grows with every change of the record
    app: ArrApp | None = None  # rename and quality_mismatch: the Arr app that asked
    new_path: str | None = None  # rename: the name the app gives the file
    # transcode: the audio and subtitle streams its track plan keeps (None: all), and why it drops the others
    streams: tuple[int, ...] | None = None
    track_plan: tuple[str, ...] = ()
    # ready_to_replace (and after): the output's VMAF, when measured; whether preview frames were kept
    vmaf: float | None = None
    previews: bool = False


class JobsQuery(msgspec.Struct, frozen=True, kw_only=True):
    statuses: tuple[JobStatus, ...] = ()
    kind: JobKind | None = None
    before_id: int | None = None  # keyset: rows with id < before_id, newest first
    limit: int = 50


class JobsPage(msgspec.Struct, frozen=True, kw_only=True):
    items: tuple[JobView, ...]
    next_before_id: int | None
    counts: dict[str, int] = {}


class QueueDepth(msgspec.Struct, frozen=True, kw_only=True):
    """How many jobs of one kind are in one state."""

    status: JobStatus
    kind: JobKind
    jobs: int


class QueueMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """The scheduler's figures for monitoring, all read from counts it keeps up to date (never a count over
    the jobs): jobs per state and kind, and how far its outbox relay is behind."""

    depth: tuple[QueueDepth, ...]
    outbox_due: int  # messages due to be published and not published yet
    outbox_lag_seconds: float  # how long the oldest of them has been due (0 when none)


class JobAction(msgspec.Struct, frozen=True, kw_only=True):
    """A user's action on one job (retry, delete). A job that does not exist is answered with a 404, one
    whose state forbids the action with a 409 (``librarrarian_runtime.errors``)."""

    job_id: int


class MoveJob(msgspec.Struct, frozen=True, kw_only=True):
    """A user moves a waiting transcode to the top or the bottom of the queue."""

    job_id: int
    to: Literal["top", "bottom"]


class ActionResult(msgspec.Struct, frozen=True, kw_only=True):
    detail: str = ""


class ClearPending(msgspec.Struct, frozen=True, kw_only=True):
    """A user empties the queue: every waiting job (of one kind, when given) is deleted: the pending ones,
    or those awaiting approval."""

    kind: JobKind | None = None
    status: Literal["pending", "awaiting_approval"] = "pending"


class ClearedJobs(msgspec.Struct, frozen=True, kw_only=True):
    deleted: int


class ReleaseJobs(msgspec.Struct, frozen=True, kw_only=True):
    """A user approves jobs awaiting approval: one (``job_id``: 404 when there is none, 409 when it is not
    awaiting approval), or every one of a kind (or of all kinds)."""

    job_id: int | None = None
    kind: JobKind | None = None


class ReleasedJobs(msgspec.Struct, frozen=True, kw_only=True):
    released: int
    detail: str = ""


class HistoryEntry(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    job_id: int
    status: Literal["done", "skipped"]
    path: str
    output_path: str | None
    node: str
    encoder: str | None
    codec_before: str | None
    codec_after: str | None
    size_before: int | None
    size_after: int | None
    duration: float | None
    elapsed_seconds: float | None
    reason: str | None
    finished_at: datetime
    fallback_reason: str | None = None  # why the hardware encode gave way to the CPU
    vmaf: float | None = None  # when measured
    ffmpeg_log: str | None = None  # the last lines ffmpeg wrote; in one entry's details, not in pages
    recycled: str | None = None  # where the original was kept (its recycle folder entry), if it was
    quality: QualityChoice | None = None  # how the level was chosen (fixed or by target), what was measured


class HistoryLookup(msgspec.Struct, frozen=True, kw_only=True):
    """One history entry by its id (the details of one finished file)."""

    id: int


class HistoryQuery(msgspec.Struct, frozen=True, kw_only=True):
    search: str | None = None
    before_id: int | None = None
    limit: int = 50


class HistoryPage(msgspec.Struct, frozen=True, kw_only=True):
    items: tuple[HistoryEntry, ...]
    next_before_id: int | None


class Stats(msgspec.Struct, frozen=True, kw_only=True):
    files_encoded: int
    files_skipped: int
    bytes_before: int
    bytes_after: int
    bytes_saved: int
    average_reduction: float  # 0.0 to 1.0 over encoded files


class RecycledOriginal(msgspec.Struct, frozen=True, kw_only=True):
    """An original kept in a recycle folder after its output took its place."""

    job_id: int
    path: str  # the original's path, as its job named it
    kept_as: str  # the entry in the recycle folder
    size: int
    recycled_at: float  # seconds since the epoch
    expires_at: float


class RecycleList(msgspec.Struct, frozen=True, kw_only=True):
    originals: tuple[RecycledOriginal, ...]
    bytes_held: int  # everything the recycle folders hold
    days: float  # how long an original is kept


class RestoreRequest(msgspec.Struct, frozen=True, kw_only=True):
    job_id: int


class Restored(msgspec.Struct, frozen=True, kw_only=True):
    job_id: int
    path: str  # the original, back under its name


class ChartsQuery(msgspec.Struct, frozen=True, kw_only=True):
    """The statistics page's aggregates over the files finished in the last ``days`` days."""

    days: int = 30


class DaySaved(msgspec.Struct, frozen=True, kw_only=True):
    day: date
    files: int
    bytes_saved: int


class CodecCount(msgspec.Struct, frozen=True, kw_only=True):
    codec: str
    files: int


class NodeThroughput(msgspec.Struct, frozen=True, kw_only=True):
    node: str
    files: int
    bytes_before: int
    media_seconds: float  # length of the video encoded
    busy_seconds: float  # time spent encoding it


class DayQuality(msgspec.Struct, frozen=True, kw_only=True):
    """One UTC day's measured VMAF, and the bytes quality by target saved against fixed quality."""

    day: date
    measured: int  # encoded files whose VMAF was measured
    vmaf_mean: float | None  # their mean VMAF; None when none was
    compared: int  # target-mode files whose size at the fixed level was estimated
    # The sum over those of that size less their own (negative: the target cost bytes).
    bytes_saved_vs_fixed: int


class Charts(msgspec.Struct, frozen=True, kw_only=True):
    days: int
    saved_per_day: tuple[DaySaved, ...]
    codecs_before: tuple[CodecCount, ...]
    codecs_after: tuple[CodecCount, ...]
    nodes: tuple[NodeThroughput, ...]
    # The days with a measured VMAF or a target-mode file compared with fixed quality, oldest first.
    quality_per_day: tuple[DayQuality, ...] = ()


class Nothing(msgspec.Struct, frozen=True, kw_only=True):
    """A request that needs no arguments."""


class ActivePlayback(msgspec.Struct, frozen=True, kw_only=True):
    """A media server on which someone is watching now. Never a token: only where the server is."""

    source: str  # plex | jellyfin
    host: str  # the server's host as its URL names it
    # The addresses of the server's machine: its URL's host resolved by the scanner; a server the scanner
    # reaches on loopback is on the scanner's machine, so that machine's own addresses are given instead.
    addresses: tuple[str, ...] = ()
    sessions: int = 1  # sessions playing (not paused)


class PlaybackState(msgspec.Struct, frozen=True, kw_only=True):
    """The ``playback`` bucket's ``active`` key: the media servers with a session playing, written by the
    scanner at every poll (an empty list: nobody watches, or the setting is ``off``)."""

    playing: tuple[ActivePlayback, ...] = ()
    updated_at: datetime = msgspec.field(default_factory=utcnow)


# Most outputs a review request may name (the rest are reviewed with "all": no ids).
MAX_REVIEWED = 500


class ReviewJobs(msgspec.Struct, frozen=True, kw_only=True):
    """Accept or reject the waiting outputs of ``job_ids`` (empty: every job ready to replace)."""

    accept: bool
    job_ids: tuple[int, ...] = ()


class ReviewedJobs(msgspec.Struct, frozen=True, kw_only=True):
    job_ids: tuple[int, ...]  # the jobs queued for the decision
    detail: str


PreviewOf = Literal["original", "output"]


class PreviewQuery(msgspec.Struct, frozen=True, kw_only=True):
    job_id: int
    of: PreviewOf


class Preview(msgspec.Struct, frozen=True, kw_only=True):
    jpeg: bytes
    at: float | None = None  # seconds into the video
