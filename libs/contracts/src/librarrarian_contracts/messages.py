"""Every message that crosses the bus: events (facts) and commands (requests to act).

Naming, checked by the contract tests: a tag is ``<domain>.<name>``, where the domain is the first word of
the subjects it travels on (``media``, ``job``, ``queue``, ``scan``, ``cleanup``, ``work``, ``arr``,
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

from .arr import ScanKind
from .enums import ArrApp, HwClass, JobChange, StreamKind
from .identity import FileIdentity as FileIdentity  # where the bus's messages always found it
from .quality import QualityChoice
from .settings import MediaType, Quality, TargetCodec
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
    # video: the Dolby Vision configuration record, when the stream has one: its profile (5, 7, 8, …) and
    # its base layer's signal compatibility id (0: none, the base layer alone shows wrong colours; 1: HDR10;
    # 2: SDR; 4: HLG).
    dv_profile: int | None = None
    dv_compatibility: int | None = None
    title: str | None = None  # the stream's title tag ("Director's commentary")
    default: bool = False  # disposition: the player's first choice
    comment: bool = False  # disposition: a commentary track


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

    def dolby_vision(self) -> StreamInfo | None:
        """The video stream with a Dolby Vision configuration record, if any (cover art aside)."""
        return next(
            (
                s
                for s in self.streams
                if s.kind == "video" and not s.attached_pic and s.dv_profile is not None
            ),
            None,
        )


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


# --- Arr apps (gateway → arr; arr → scheduler, scanner) ------------------------------------------
# Paths are ours (the app's mapped through its path mappings, checked to lie inside the media paths); the ids
# are the app's own: the series, movie or artist (``item_id``) and its file (``file_id``).


class StartArrScan(Command, frozen=True, kw_only=True, tag="scan.start_arr"):
    """Ask an Arr app which files it would name otherwise (``rename``) or which are below their quality
    profile's cutoff (``quality``); its event id is the scan's id, cancelled like a library scan's."""

    app: ArrApp
    kind: ScanKind


class RenameWanted(Event, frozen=True, kw_only=True, tag="arr.rename_wanted"):
    """A file the app would name otherwise: the scheduler records one ``rename`` job for it, waiting for a
    user's approval when ``approval``, queued at once otherwise."""

    app: ArrApp
    path: str
    new_path: str
    item_id: int
    file_id: int
    title: str = ""  # the series, movie or artist
    approval: bool = True
    scan_id: str = ""  # the scan that found it; empty for a rename after a transcode


class QualityMismatchFound(Event, frozen=True, kw_only=True, tag="arr.quality_mismatch_found"):
    """A file below its quality profile's cutoff (the app's cutoff-unmet list): recorded as a
    ``quality_mismatch`` job to review; with ``hold`` the file's transcode waits too (the app is about to
    replace the file), saying why."""

    app: ArrApp
    path: str
    item_id: int
    file_id: int
    title: str = ""
    quality: str = ""  # the file's, as the app names it
    cutoff: str = ""  # the profile's
    hold: bool = True
    scan_id: str = ""


class FileRenamed(Event, frozen=True, kw_only=True, tag="arr.file_renamed"):
    """An app renamed a file (a rename job, or the app on its own, heard through its webhook): the
    catalogue and the jobs follow the file to its new name, so it is not taken for a new one."""

    app: ArrApp
    path: str
    new_path: str
    job_id: int | None = None  # the rename job that asked for it


class FileImported(Event, frozen=True, kw_only=True, tag="arr.file_imported"):
    """An app imported (or upgraded to) a file: the scanner probes it now rather than at its next scan."""

    app: ArrApp
    path: str
    upgrade: bool = False


class FileDeleted(Event, frozen=True, kw_only=True, tag="arr.file_deleted"):
    """An app deleted a file (an upgrade replaced it, or a user did): its waiting jobs are dropped."""

    app: ArrApp
    path: str
    reason: str = ""


class ArrScanCompleted(Event, frozen=True, kw_only=True, tag="arr.scan_completed"):
    scan_id: str
    app: ArrApp
    kind: ScanKind
    items: int  # series, movies or artists looked at (rename), or cutoff-unmet entries (quality)
    found: int  # files published for the scheduler
    elapsed_seconds: float
    cancelled: bool = False
    problem: str = ""  # why it stopped early (the app could not be reached, say)


# --- work (scheduler → encoder, cleanup, arr) ----------------------------------------------------


class WaitingOutput(msgspec.Struct, frozen=True, kw_only=True):
    """A verified output kept beside its original (under its temporary name, in the original's folder) until
    a user reviews it; what it was when kept (size, mtime, inode), so that an accept or reject acts only on
    that very file."""

    name: str
    identity: FileIdentity
    codec: str
    encoder: str
    duration: float | None = None
    vmaf: float | None = None


class ReviewDecision(msgspec.Struct, frozen=True, kw_only=True):
    """A user's decision on a waiting output, carried by the job's next ``Transcode``: ``accept`` puts it in
    the original's place (the same checked, atomic replace as any transcode), otherwise it is deleted."""

    accept: bool
    output: WaitingOutput


class Transcode(Command, frozen=True, kw_only=True, tag="work.transcode"):
    """Encode one attempt of a job; its event id is ``<job>:<attempt>@<class>`` (one per class it went to)."""

    job_id: int
    attempt: int
    path: str
    identity: FileIdentity
    probe: MediaProbe
    target_codec: TargetCodec = "hevc"
    hw_class: HwClass = HwClass.CPU
    # The audio and subtitle streams to keep (their indexes in ``probe``, in order), as the job's track plan
    # says; None: every one. Video, cover art and attachments are kept either way.
    streams: tuple[int, ...] | None = None
    # The file's library folder is reviewed: the verified output is kept for a user (``ReviewRequested``) instead
    # of replacing the original.
    review: bool = False
    # Set: not an encode but a user's decision on the output a previous attempt kept.
    decision: ReviewDecision | None = None

    def planned(self) -> MediaProbe:
        """The probe as the output should be: the source's streams without the ones the plan drops."""
        if self.streams is None:
            return self.probe
        kept = set(self.streams)
        return msgspec.structs.replace(
            self.probe,
            streams=tuple(
                s for s in self.probe.streams if s.kind not in ("audio", "subtitle") or s.index in kept
            ),
        )


class EncodeSegment(Command, frozen=True, kw_only=True, tag="work.encode_segment"):
    """Encode the video of one segment of a file (``[start, end)`` of its timeline; ``end`` None: to its end)
    for the node coordinating the job, which joins the segments; its event id is
    ``<job>:<attempt>:<index>``. The node that takes it reads the source from the library (``path``, checked
    against ``identity``) or, when it cannot see the library, from its own transfer store (``source_object``,
    put there for each node of ``remote_nodes``), and puts the segment's video in the store it reaches
    (``transfers``, or its own) under ``output_object``."""

    job_id: int
    attempt: int
    index: int
    segments: int  # how many the file has
    start: float
    end: float | None
    path: str
    identity: FileIdentity
    probe: MediaProbe
    target_codec: TargetCodec = "hevc"
    hw_class: HwClass = HwClass.CPU
    quality: Quality  # chosen once for the whole file, so that the segments match
    coordinator: str  # the node that joins the segments
    output_object: str
    source_object: str | None = None  # the source's name in the stores of the nodes without the library
    # The nodes without the library the job's plan and source were put for; another hands the segment back.
    remote_nodes: tuple[str, ...] = ()


class RemoveStaleFile(Command, frozen=True, kw_only=True, tag="work.remove_stale_file"):
    """Delete a stale file a user approved; only if it is still what was found (``identity``)."""

    job_id: int
    attempt: int
    path: str
    identity: FileIdentity


class RenameFile(Command, frozen=True, kw_only=True, tag="work.rename_file"):
    """Ask the app to rename one file a user approved (or that needed no approval), if it still would."""

    job_id: int
    attempt: int
    app: ArrApp
    path: str
    new_path: str
    item_id: int
    file_id: int


# --- job reports (encoder, cleanup, arr → scheduler, history) -----------------------------------
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
    # What the user should know about the output: metadata it could not keep ("Dolby Vision dropped: …"),
    # the hard links it replaced one of. Shown as the done job's reason.
    notes: tuple[str, ...] = ()
    # Where the original is kept (its recycle folder entry), when it went to the recycle folder.
    recycled: str | None = None
    # How the quality level was chosen (fixed or by target) and what the check measured.
    quality: QualityChoice | None = None


class ReviewRequested(Event, frozen=True, kw_only=True, tag="job.review_requested"):
    """A verified output waits beside its original for a user's review (its folder is reviewed). Sent by
    the holder of the commit: the job is ``ready_to_replace`` and holds no slot. ``previews``: one small JPEG
    of the original and one of the output at the same moment (``preview_at`` seconds in), when they could be
    made."""

    job_id: int
    attempt: int
    node: str
    path: str
    output_path: str  # the waiting output as the server sees it
    output: WaitingOutput
    size_before: int
    size_after: int
    elapsed_seconds: float
    delivery: int | None = None
    notes: tuple[str, ...] = ()
    previews: tuple[bytes, bytes] | None = None
    preview_at: float | None = None


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
    # What the worker needs could not be reached (an Arr app that is down): the job waits and is tried again
    # however often it takes, never failed for it.
    unavailable: bool = False


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


class RenameFinished(Event, frozen=True, kw_only=True, tag="job.rename_finished"):
    """A rename job's outcome: the app renamed the file (``new_path``), or it no longer would, and why."""

    job_id: int
    attempt: int
    node: str
    path: str
    new_path: str
    renamed: bool
    reason: str = ""
    delivery: int | None = None


JobReport = (
    JobStarted | JobCompleted | JobSkipped | JobFailed | CleanupFinished | RenameFinished | ReviewRequested
)


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
ArrCommand = StartArrScan | CancelScan
CleanupMessage = FindStaleFiles | StaleFileFound | CleanupScanCompleted
ArrEvent = RenameWanted | QualityMismatchFound | FileRenamed | FileImported | FileDeleted | ArrScanCompleted
WorkMessage = Transcode | EncodeSegment | RemoveStaleFile | RenameFile
QueueEvent = JobStateChanged
BackupEvent = BackupCompleted | BackupFailed
AnyMessage = (
    MediaEvent
    | StartArrScan
    | ScanCommand
    | CleanupMessage
    | ArrEvent
    | WorkMessage
    | JobReport
    | QueueEvent
    | BackupEvent
)
