"""The bus, declared once: subjects, streams, durable consumers, KV buckets and query endpoints.

Subject strings, stream and durable names are spelled only here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .enums import HwClass as HwClass  # where it was first declared; still imported from here

# Subjects. An event travels on the subject equal to its tag; :mod:`catalog` says who produces and who
# consumes each, and which message types travel there.
MEDIA_PROBED = "media.probed"
MEDIA_PROBE_FAILED = "media.probe_failed"
MEDIA_SCAN_COMPLETED = "media.scan_completed"
SCAN_START = "scan.start"
SCAN_CANCEL = "scan.cancel"
JOB_STARTED = "job.started"
JOB_COMPLETED = "job.completed"
JOB_SKIPPED = "job.skipped"
JOB_FAILED = "job.failed"
JOB_CLEANUP_FINISHED = "job.cleanup_finished"
JOB_REVIEW_REQUESTED = "job.review_requested"
JOB_STATE_CHANGED = "queue.job_state_changed"
CLEANUP_FIND_STALE_FILES = "cleanup.find_stale_files"
CLEANUP_STALE_FILE_FOUND = "cleanup.stale_file_found"
CLEANUP_SCAN_COMPLETED = "cleanup.scan_completed"
WORK_TRANSCODE = "work.transcode"  # .<hardware class>
WORK_SEGMENT = "work.segment"  # .<hardware class>
WORK_CLEANUP = "work.cleanup"
WORK_RENAME = "work.rename"
SCAN_START_ARR = "scan.start_arr"
ARR_RENAME_WANTED = "arr.rename_wanted"
ARR_QUALITY_MISMATCH_FOUND = "arr.quality_mismatch_found"
ARR_FILE_RENAMED = "arr.file_renamed"
ARR_FILE_IMPORTED = "arr.file_imported"
ARR_FILE_DELETED = "arr.file_deleted"
ARR_SCAN_COMPLETED = "arr.scan_completed"
JOB_RENAME_FINISHED = "job.rename_finished"
BACKUP_COMPLETED = "backup.completed"
BACKUP_FAILED = "backup.failed"


def scan_cancel_subject(scan_id: str) -> str:
    """Where a scan's cancel goes: a subject of its own, so a scanner taking the scan's command later can
    still find it in the ``CONTROL`` stream (the last message on that subject)."""
    return f"{SCAN_CANCEL}.{scan_id}"


def transcode_subject(hw: HwClass | str) -> str:
    return f"{WORK_TRANSCODE}.{HwClass(hw).value}"


def segment_subject(hw: HwClass | str) -> str:
    return f"{WORK_SEGMENT}.{HwClass(hw).value}"


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    work_queue: bool = False
    max_age_seconds: float | None = None
    duplicate_window_seconds: float = 120.0


@dataclass(frozen=True)
class ConsumerSpec:
    stream: str
    durable: str
    filter_subject: str
    ack_wait_seconds: float = 30.0
    max_deliver: int = -1
    max_ack_pending: int = 1000


@dataclass(frozen=True)
class BucketSpec:
    name: str
    ttl_seconds: float | None = None
    history: int = 1


DAY = 86_400.0

MEDIA = StreamSpec("MEDIA", ("media.>",), max_age_seconds=30 * DAY)
WORK = StreamSpec("WORK", ("work.>",), work_queue=True)
JOBS = StreamSpec("JOBS", ("job.>",), max_age_seconds=30 * DAY)
CONTROL = StreamSpec("CONTROL", ("scan.>",), max_age_seconds=7 * DAY)
CLEANUP = StreamSpec("CLEANUP", ("cleanup.>",), max_age_seconds=7 * DAY)
# The scheduler's record, change by change: what the dashboard and integrations follow.
QUEUE = StreamSpec("QUEUE", ("queue.>",), max_age_seconds=7 * DAY)
# What the arr service learnt from the Arr apps: files to rename or review, files they renamed, imported, deleted.
ARR = StreamSpec("ARR", ("arr.>",), max_age_seconds=7 * DAY)
# Each backup's outcome, for the dashboard and notifications.
BACKUPS = StreamSpec("BACKUPS", ("backup.>",), max_age_seconds=30 * DAY)
STREAMS: tuple[StreamSpec, ...] = (MEDIA, WORK, JOBS, CONTROL, CLEANUP, QUEUE, ARR, BACKUPS)

# Work: one durable per hardware class, never overlapping (work-queue retention requires it).
# A delivery whose encoder stops heartbeating is redelivered after AckWait to another node;
# MaxDeliver bounds how often a crashing job is retried that way.
WORK_ACK_WAIT_SECONDS = 30.0
WORK_MAX_DELIVER = 5


def encoder_durable(hw: HwClass | str) -> str:
    return f"encoder-{HwClass(hw).value}"


WORK_CONSUMERS: dict[HwClass, ConsumerSpec] = {
    hw: ConsumerSpec(
        WORK.name,
        encoder_durable(hw),
        transcode_subject(hw),
        ack_wait_seconds=WORK_ACK_WAIT_SECONDS,
        max_deliver=WORK_MAX_DELIVER,
        max_ack_pending=64,
    )
    for hw in HwClass
}
# Segments of files encoded across nodes: any node of the class takes any segment. A node that dies mid-segment
# stops heartbeating and the segment goes to another after AckWait; it alone is done again. The server never
# drops a segment (a job would wait for it for good): its worker gives up on it itself, with the reason, after
# SEGMENT_GIVE_UP deliveries.
SEGMENT_GIVE_UP = 2 * WORK_MAX_DELIVER
SEGMENT_CONSUMERS: dict[HwClass, ConsumerSpec] = {
    hw: ConsumerSpec(
        WORK.name,
        f"segments-{hw.value}",
        segment_subject(hw),
        ack_wait_seconds=WORK_ACK_WAIT_SECONDS,
        max_ack_pending=256,
    )
    for hw in HwClass
}
SCHEDULER_MEDIA = ConsumerSpec(MEDIA.name, "scheduler-media", "media.>")
SCHEDULER_JOBS = ConsumerSpec(JOBS.name, "scheduler-jobs", "job.>")
HISTORY_JOBS = ConsumerSpec(JOBS.name, "history-jobs", "job.>")
SCANNER_CONTROL = ConsumerSpec(CONTROL.name, "scanner-control", SCAN_START, ack_wait_seconds=3600.0)
SCANNER_JOBS = ConsumerSpec(JOBS.name, "scanner-jobs", JOB_COMPLETED)
# Approved deletions of stale files. One takes milliseconds (no heartbeat): a cleanup service that dies
# mid-job hands it on after a short AckWait, and the file's identity check makes a second try harmless.
CLEANUP_WORK = ConsumerSpec(
    WORK.name, "cleanup", WORK_CLEANUP, ack_wait_seconds=10.0, max_deliver=WORK_MAX_DELIVER
)
CLEANUP_CONTROL = ConsumerSpec(
    CLEANUP.name, "cleanup-control", CLEANUP_FIND_STALE_FILES, ack_wait_seconds=3600.0
)
SCHEDULER_CLEANUP = ConsumerSpec(CLEANUP.name, "scheduler-cleanup", CLEANUP_STALE_FILE_FOUND)
# Approved renames. The arr service waits for the app's command (bounded, heartbeating meanwhile); an app that
# is down is reported (job.failed, unavailable) and the scheduler tries again later, so deliveries stay few.
ARR_WORK = ConsumerSpec(
    WORK.name, "arr-rename", WORK_RENAME, ack_wait_seconds=60.0, max_deliver=WORK_MAX_DELIVER
)
ARR_CONTROL = ConsumerSpec(CONTROL.name, "arr-control", SCAN_START_ARR, ack_wait_seconds=3600.0)
ARR_JOBS = ConsumerSpec(JOBS.name, "arr-jobs", JOB_COMPLETED)
SCHEDULER_ARR = ConsumerSpec(ARR.name, "scheduler-arr", "arr.>")
SCANNER_RENAMES = ConsumerSpec(ARR.name, "scanner-renames", ARR_FILE_RENAMED)
SCANNER_IMPORTS = ConsumerSpec(ARR.name, "scanner-imports", ARR_FILE_IMPORTED)
HISTORY_RENAMES = ConsumerSpec(ARR.name, "history-renames", ARR_FILE_RENAMED)
CONSUMERS: tuple[ConsumerSpec, ...] = (
    *WORK_CONSUMERS.values(),
    *SEGMENT_CONSUMERS.values(),
    CLEANUP_WORK,
    CLEANUP_CONTROL,
    SCHEDULER_CLEANUP,
    ARR_WORK,
    ARR_CONTROL,
    ARR_JOBS,
    SCHEDULER_ARR,
    SCANNER_RENAMES,
    SCANNER_IMPORTS,
    HISTORY_RENAMES,
    SCHEDULER_MEDIA,
    SCHEDULER_JOBS,
    HISTORY_JOBS,
    SCANNER_CONTROL,
    SCANNER_JOBS,
)

NODE_HEARTBEAT_SECONDS = 5.0
NODES = BucketSpec("nodes", ttl_seconds=4 * NODE_HEARTBEAT_SECONDS)
PROGRESS = BucketSpec("progress", ttl_seconds=120.0)
SETTINGS = BucketSpec("settings", history=5)
# One key per scan (its id): progress while it runs, the outcome for a day after.
SCANS = BucketSpec("scans", ttl_seconds=DAY)
# The last backup's outcome (key ``status``), for the dashboard.
BACKUP_STATUS = BucketSpec("backups")
# Who is watching on Plex or Jellyfin (key ``active``), written by the scanner every poll; a value not
# rewritten for a few polls (the scanner stopped) is taken for "nobody", so nodes never stay paused for good.
PLAYBACK_POLL_SECONDS = 10.0
PLAYBACK_STALE_SECONDS = 3 * PLAYBACK_POLL_SECONDS
PLAYBACK_KEY = "active"
PLAYBACK = BucketSpec("playback", ttl_seconds=6 * PLAYBACK_POLL_SECONDS)
# What each quality search ended at, per series folder, source resolution, encoder and target: the next
# search of that folder starts there. Forgotten after a year unused.
QUALITY = BucketSpec("quality", ttl_seconds=365 * DAY)
BUCKETS: tuple[BucketSpec, ...] = (NODES, PROGRESS, SETTINGS, SCANS, BACKUP_STATUS, PLAYBACK, QUALITY)


@dataclass(frozen=True)
class StoreSpec:
    """A JetStream object store: files in chunks of a stream (``OBJ_<name>``), each checksummed."""

    name: str
    ttl_seconds: float | None = None
    max_bytes: int | None = None


# Files that travel between nodes as pieces of a job (a segment's source or output, a whole file for a node
# without the library): each removed by the job once used; anything a crash left expires after two days.
TRANSFERS = StoreSpec("transfers", ttl_seconds=2 * DAY)
STORES: tuple[StoreSpec, ...] = (TRANSFERS,)

# An encoder without the library (a laptop, a cloud machine, a friend's GPU) is named in the cluster's
# configuration (``REMOTE_NODES``), logs in as a user of its own and reaches a transfer store of its own only:
# the library's nodes put there what it needs of a job (its plan, its source), and it puts its segments there.
REMOTE_NODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
REMOTE_USER_PREFIX = "remote-"


class NotARemoteNode(ValueError):
    """A name that cannot name a node without the library (it becomes part of a user's and a store's)."""


def remote_node(name: str) -> str:
    """``name`` when it may name a node without the library: lower-case letters, digits, ``-`` and ``_``."""
    if not REMOTE_NODE.fullmatch(name):
        raise NotARemoteNode(
            f"{name!r} cannot name a node without the library: use 1 to 32 lower-case letters, digits, "
            "'-' and '_', a letter or digit first"
        )
    return name


def remote_user(node: str) -> str:
    """The NATS user of a node without the library."""
    return REMOTE_USER_PREFIX + remote_node(node)


def remote_store(node: str) -> StoreSpec:
    """The transfer store of a node without the library: only it and the library's nodes reach it."""
    return StoreSpec(f"{TRANSFERS.name}-{remote_node(node)}", ttl_seconds=TRANSFERS.ttl_seconds)


def remote_nodes(text: str) -> tuple[str, ...]:
    """``REMOTE_NODES``: names separated by commas or spaces, each checked, in order, once."""
    return tuple(dict.fromkeys(remote_node(n) for n in re.split(r"[,\s]+", text.strip()) if n))


# Request/reply query endpoints (nats.micro services).
SCHEDULER_SERVICE = "scheduler"
SCHEDULER_COMMIT = "scheduler.commit"
SCHEDULER_JOBS_QUERY = "scheduler.jobs"
SCHEDULER_RETRY = "scheduler.retry"
SCHEDULER_DELETE = "scheduler.delete"
SCHEDULER_MOVE = "scheduler.move"
SCHEDULER_CLEAR = "scheduler.clear"
SCHEDULER_RELEASE = "scheduler.release"
SCHEDULER_METRICS = "scheduler.metrics"
SCHEDULER_REVIEW = "scheduler.review"
SCHEDULER_PREVIEW = "scheduler.preview"
# The cleanup service's recycle folder (it has the library, and removes files already). Not under
# cleanup.>: the CLEANUP stream would take the requests for itself (and answer them with its PubAck).
CLEANUP_SERVICE = "cleanup"
CLEANUP_RECYCLE_LIST = "recycle.list"
CLEANUP_RECYCLE_RESTORE = "recycle.restore"
HISTORY_SERVICE = "history"
HISTORY_LIST = "history.list"
HISTORY_STATS = "history.stats"
HISTORY_ENTRY = "history.entry"
HISTORY_CHARTS = "history.charts"
# The scanner's Plex and Jellyfin set-up: it keeps their tokens, so the gateway asks it.
SOURCES_SERVICE = "scanner-sources"
SOURCES_STATUS = "scanner.sources.status"
SOURCES_PLEX_PIN_START = "scanner.sources.plex.pin.start"
SOURCES_PLEX_PIN_CHECK = "scanner.sources.plex.pin.check"
SOURCES_PLEX_SERVERS = "scanner.sources.plex.servers"
SOURCES_PLEX_LIBRARIES = "scanner.sources.plex.libraries"
SOURCES_PLEX_SELECT = "scanner.sources.plex.select"
SOURCES_PLEX_UNLINK = "scanner.sources.plex.unlink"
SOURCES_PLEX_TEST = "scanner.sources.plex.test"
SOURCES_PLEX_ITEM = "scanner.sources.plex.item"
SOURCES_JELLYFIN_SET = "scanner.sources.jellyfin.set"
SOURCES_JELLYFIN_TEST = "scanner.sources.jellyfin.test"
SOURCES_JELLYFIN_LIBRARIES = "scanner.sources.jellyfin.libraries"
SOURCES_SYNC = "scanner.sources.sync"
# The arr service's Sonarr, Radarr and Lidarr set-up: it keeps their API keys, so the gateway asks it. Not
# under arr.>: the ARR stream would take the requests for itself.
ARR_SERVICE = "arr"
ARR_STATUS = "arrapps.status"
ARR_SET = "arrapps.set"
ARR_TEST = "arrapps.test"
ARR_WEBHOOK_KEY = "arrapps.webhook_key"
ARR_WEBHOOK = "arrapps.webhook"
# The backup duty's endpoints (not under ``backup.``: the BACKUPS stream keeps that).
BACKUPS_SERVICE = "backups"
BACKUPS_LIST = "backups.list"
BACKUPS_CREATE = "backups.create"
BACKUPS_RESTORE = "backups.restore"


def max_deliveries_advisory(spec: ConsumerSpec) -> str:
    """JetStream's advisory when a message of this durable exhausted MaxDeliver (its workers kept dying)."""
    return f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{spec.stream}.{spec.durable}"
