"""Who says what on the bus: every subject with the messages that travel on it, the roles that produce and
consume them, every request/reply endpoint, every KV bucket and every durable consumer. The subject strings
themselves are spelled in :mod:`topology`; the AsyncAPI document, the bus table in ``docs/bus.md``, each
role's NATS permissions (:mod:`permissions`) and the contract tests are all made from this one table.

A role is a service (each logs in to NATS as its own user) or ``integration``: a subscriber of ours
outside the cluster, which may only listen to what is marked public.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from . import arr, backups, quality, scans, settings, sources, topology, views
from . import messages as m
from .topology import BucketSpec, ConsumerSpec, StreamSpec


class Role(StrEnum):
    SCANNER = "scanner"
    SCHEDULER = "scheduler"
    ENCODER = "encoder"
    HISTORY = "history"
    CLEANUP = "cleanup"
    GATEWAY = "gateway"
    ARR = "arr"
    INTEGRATION = "integration"
    # The backup duty (``librarrarian up`` runs it; ``librarrarian backup`` and ``restore`` log in as it).
    BACKUP = "backup"


SCANNER, SCHEDULER, ENCODER, HISTORY, CLEANUP, GATEWAY, ARR, INTEGRATION, BACKUP = Role


@dataclass(frozen=True)
class Channel:
    """A subject (``{name}`` stands for one token) and what travels on it."""

    address: str
    messages: tuple[type[m.Message], ...]
    producers: tuple[Role, ...]
    consumers: tuple[Role, ...]
    summary: str
    stream: StreamSpec | None = None  # None: core NATS only, nothing is kept
    public: bool = False  # integrations may subscribe
    parameters: dict[str, str] = field(default_factory=dict)  # token -> what it is

    @property
    def filter(self) -> str:
        """The NATS subject filter that matches every address of this channel."""
        return ".".join("*" if part.startswith("{") else part for part in self.address.split("."))


@dataclass(frozen=True)
class Endpoint:
    """A request/reply endpoint of a ``nats.micro`` service: errors come back as service errors."""

    subject: str
    request: type[Any]
    reply: type[Any]
    server: Role
    clients: tuple[Role, ...]
    summary: str


@dataclass(frozen=True)
class Bucket:
    """A KV bucket: its keys' values, who writes and who reads them. Every put is also published on
    ``$KV.<bucket>.<key>``, which is how an integration follows a public bucket."""

    spec: BucketSpec
    values: tuple[type[Any], ...]
    writers: tuple[Role, ...]
    readers: tuple[Role, ...]
    summary: str
    key: str  # what a key is
    public: bool = False
    # Keys (subject patterns) a reader may write besides the writers: the first-start defaults it seeds
    # from its environment when the key is absent. Each role is given only its own.
    seeds: tuple[tuple[Role, str], ...] = ()

    def seeded_by(self, role: Role) -> tuple[str, ...]:
        return tuple(key for seeder, key in self.seeds if seeder is role)


@dataclass(frozen=True)
class Durable:
    """A durable pull consumer: the roles that take its messages to handle them (they consume its channels),
    the roles that may take waiting ones back to queue them elsewhere, and who hears of a message that
    exhausted its deliveries."""

    spec: ConsumerSpec
    consumers: tuple[Role, ...]
    summary: str
    movers: tuple[Role, ...] = ()
    advised: tuple[Role, ...] = ()  # subscribe to its max-deliveries advisories


@dataclass(frozen=True)
class Lookup:
    """Roles that read a stream's messages one by one, by sequence (not through a consumer), and those that
    may take single messages out of it again (never the stream itself)."""

    stream: StreamSpec
    readers: tuple[Role, ...]
    summary: str
    removers: tuple[Role, ...] = ()


HW = {"hw_class": "the hardware class: " + ", ".join(topology.HwClass)}
REPORTERS = (SCHEDULER, HISTORY, GATEWAY)

CHANNELS: tuple[Channel, ...] = (
    Channel(
        topology.MEDIA_PROBED,
        (m.MediaProbed,),
        (SCANNER,),
        (SCHEDULER,),
        "A new or changed video was probed: its streams, identity and fingerprint.",
        topology.MEDIA,
    ),
    Channel(
        topology.MEDIA_PROBE_FAILED,
        (m.MediaProbeFailed,),
        (SCANNER,),
        (SCHEDULER,),
        "A new or changed video could not be read.",
        topology.MEDIA,
    ),
    Channel(
        topology.MEDIA_SCAN_COMPLETED,
        (m.ScanCompleted,),
        (SCANNER,),
        (SCHEDULER, INTEGRATION),
        "A scan ended: how many files it saw, probed and could not read.",
        topology.MEDIA,
        public=True,
    ),
    Channel(
        topology.SCAN_START,
        (m.StartScan,),
        (GATEWAY,),
        (SCANNER,),
        "Scan every library folder, or the given roots.",
        topology.CONTROL,
    ),
    Channel(
        topology.scan_cancel_subject("{scan_id}"),
        (m.CancelScan,),
        (GATEWAY,),
        (SCANNER, ARR),
        "Stop a scan (of the library or of an Arr app), running or waiting; kept so a scanner that takes the "
        "scan later still sees it.",
        topology.CONTROL,
        parameters={"scan_id": "the scan's id (its StartScan's event id)"},
    ),
    Channel(
        topology.SCAN_START_ARR,
        (m.StartArrScan,),
        (GATEWAY,),
        (ARR,),
        "Ask an Arr app which files it would rename, or which are below their quality cutoff.",
        topology.CONTROL,
    ),
    Channel(
        topology.CLEANUP_FIND_STALE_FILES,
        (m.FindStaleFiles,),
        (GATEWAY,),
        (CLEANUP,),
        "Look for stale temporary and lock files.",
        topology.CLEANUP,
    ),
    Channel(
        topology.CLEANUP_STALE_FILE_FOUND,
        (m.StaleFileFound,),
        (CLEANUP,),
        (SCHEDULER,),
        "A stale file, to be recorded as a cleanup job awaiting approval.",
        topology.CLEANUP,
    ),
    Channel(
        topology.CLEANUP_SCAN_COMPLETED,
        (m.CleanupScanCompleted,),
        (CLEANUP,),
        (GATEWAY, INTEGRATION),
        "A look for stale files ended: how many were found and how much space they take.",
        topology.CLEANUP,
        public=True,
    ),
    Channel(
        topology.WORK_TRANSCODE + ".{hw_class}",
        (m.Transcode,),
        (SCHEDULER,),
        (ENCODER,),
        "One attempt of a transcode, for the nodes of one hardware class (a work queue).",
        topology.WORK,
        parameters=HW,
    ),
    Channel(
        topology.WORK_SEGMENT + ".{hw_class}",
        (m.EncodeSegment,),
        (ENCODER,),
        (ENCODER,),
        "One segment of a file encoded across nodes, from the node that joins them to any node of the class "
        "(a work queue).",
        topology.WORK,
        parameters=HW,
    ),
    Channel(
        topology.WORK_CLEANUP,
        (m.RemoveStaleFile,),
        (SCHEDULER,),
        (CLEANUP,),
        "Delete a stale file a user approved (a work queue).",
        topology.WORK,
    ),
    Channel(
        topology.WORK_RENAME,
        (m.RenameFile,),
        (SCHEDULER,),
        (ARR,),
        "Have an Arr app rename a file, approved or needing no approval (a work queue).",
        topology.WORK,
    ),
    Channel(
        topology.ARR_RENAME_WANTED,
        (m.RenameWanted,),
        (ARR,),
        (SCHEDULER,),
        "A file an Arr app would name otherwise, to be recorded as a rename job.",
        topology.ARR,
    ),
    Channel(
        topology.ARR_QUALITY_MISMATCH_FOUND,
        (m.QualityMismatchFound,),
        (ARR,),
        (SCHEDULER,),
        "A file below its quality cutoff, to be reviewed; its transcode is held when the app's setting says so.",
        topology.ARR,
    ),
    Channel(
        topology.ARR_FILE_RENAMED,
        (m.FileRenamed,),
        (ARR,),
        (SCHEDULER, SCANNER, HISTORY),
        "An Arr app renamed a file: the catalogue, the jobs and the history follow it.",
        topology.ARR,
    ),
    Channel(
        topology.ARR_FILE_IMPORTED,
        (m.FileImported,),
        (ARR,),
        (SCHEDULER, SCANNER),
        "An Arr app imported or upgraded a file: probed and queued at once.",
        topology.ARR,
    ),
    Channel(
        topology.ARR_FILE_DELETED,
        (m.FileDeleted,),
        (ARR,),
        (SCHEDULER,),
        "An Arr app deleted a file: its waiting jobs are dropped.",
        topology.ARR,
    ),
    Channel(
        topology.ARR_SCAN_COMPLETED,
        (m.ArrScanCompleted,),
        (ARR,),
        (SCHEDULER, GATEWAY, INTEGRATION),
        "A scan of an Arr app ended: how many items it looked at and files it found.",
        topology.ARR,
        public=True,
    ),
    Channel(
        topology.JOB_STARTED,
        (m.JobStarted,),
        (ENCODER, ARR),
        (*REPORTERS, INTEGRATION),
        "A node started an attempt of a transcode (or the arr service one of a rename).",
        topology.JOBS,
        public=True,
    ),
    Channel(
        topology.JOB_COMPLETED,
        (m.JobCompleted,),
        (ENCODER,),
        (*REPORTERS, SCANNER, ARR, INTEGRATION),
        "A file was transcoded and put in place of its original.",
        topology.JOBS,
        public=True,
    ),
    Channel(
        topology.JOB_REVIEW_REQUESTED,
        (m.ReviewRequested,),
        (ENCODER,),
        (*REPORTERS, INTEGRATION),
        "A verified output waits beside its original for a user's review (its library folder is reviewed), "
        "with both sizes, VMAF when measured and a preview frame of each.",
        topology.JOBS,
        public=True,
    ),
    Channel(
        topology.JOB_SKIPPED,
        (m.JobSkipped,),
        (ENCODER,),
        (*REPORTERS, INTEGRATION),
        "A node left a file as it was (its output would be larger, say), with the reason.",
        topology.JOBS,
        public=True,
    ),
    Channel(
        topology.JOB_FAILED,
        (m.JobFailed,),
        (ENCODER, CLEANUP, ARR),
        (*REPORTERS, INTEGRATION),
        "An attempt failed, with the reason and the log; the scheduler decides whether to retry.",
        topology.JOBS,
        public=True,
    ),
    Channel(
        topology.JOB_CLEANUP_FINISHED,
        (m.CleanupFinished,),
        (CLEANUP,),
        (*REPORTERS, INTEGRATION),
        "A stale file was removed, or kept with the reason.",
        topology.JOBS,
        public=True,
    ),
    Channel(
        topology.JOB_RENAME_FINISHED,
        (m.RenameFinished,),
        (ARR,),
        (*REPORTERS, INTEGRATION),
        "An Arr app renamed a file, or no longer would, with the reason.",
        topology.JOBS,
        public=True,
    ),
    Channel(
        topology.JOB_STATE_CHANGED,
        (m.JobStateChanged,),
        (SCHEDULER,),
        (GATEWAY, INTEGRATION),
        "The record of a job changed: queued, awaiting approval, released, running, retry scheduled, "
        "ready to replace, accepted, rejected, done, skipped, failed or removed, with the whole record after the change.",
        topology.QUEUE,
        public=True,
    ),
    Channel(
        topology.BACKUP_COMPLETED,
        (m.BackupCompleted,),
        (BACKUP,),
        (INTEGRATION,),
        "A backup file was written: its name and size.",
        topology.BACKUPS,
        public=True,
    ),
    Channel(
        topology.BACKUP_FAILED,
        (m.BackupFailed,),
        (BACKUP,),
        (GATEWAY, INTEGRATION),
        "A backup could not be made, and why: shown on Tools and sent as a notification.",
        topology.BACKUPS,
        public=True,
    ),
)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        topology.SCHEDULER_COMMIT,
        views.CommitRequest,
        views.CommitDecision,
        SCHEDULER,
        (ENCODER, CLEANUP, ARR),
        "May this delivery replace the original (or delete the stale file, or have it renamed)? Granted to one holder at a time; "
        "only the holder's outcome counts.",
    ),
    Endpoint(
        topology.SCHEDULER_JOBS_QUERY,
        views.JobsQuery,
        views.JobsPage,
        SCHEDULER,
        (GATEWAY,),
        "Jobs, newest first.",
    ),
    Endpoint(
        topology.SCHEDULER_RETRY,
        views.JobAction,
        views.ActionResult,
        SCHEDULER,
        (GATEWAY,),
        "Queue a failed job again.",
    ),
    Endpoint(
        topology.SCHEDULER_DELETE,
        views.JobAction,
        views.ActionResult,
        SCHEDULER,
        (GATEWAY,),
        "Delete a job that is not running or done.",
    ),
    Endpoint(
        topology.SCHEDULER_MOVE,
        views.MoveJob,
        views.ActionResult,
        SCHEDULER,
        (GATEWAY,),
        "Move a waiting transcode to the top or the bottom of the queue.",
    ),
    Endpoint(
        topology.SCHEDULER_CLEAR,
        views.ClearPending,
        views.ClearedJobs,
        SCHEDULER,
        (GATEWAY,),
        "Delete every pending job, or every one awaiting approval.",
    ),
    Endpoint(
        topology.SCHEDULER_RELEASE,
        views.ReleaseJobs,
        views.ReleasedJobs,
        SCHEDULER,
        (GATEWAY,),
        "Queue jobs awaiting approval.",
    ),
    Endpoint(
        topology.SCHEDULER_REVIEW,
        views.ReviewJobs,
        views.ReviewedJobs,
        SCHEDULER,
        (GATEWAY,),
        "Accept or reject the outputs waiting for review (some, or all): each is queued to replace its "
        "original, or to be deleted.",
    ),
    Endpoint(
        topology.SCHEDULER_PREVIEW,
        views.PreviewQuery,
        views.Preview,
        SCHEDULER,
        (GATEWAY,),
        "A waiting output's preview frame, or its original's.",
    ),
    Endpoint(
        topology.SCHEDULER_METRICS,
        views.Nothing,
        views.QueueMetrics,
        SCHEDULER,
        (GATEWAY,),
        "Jobs per state and kind, and the outbox's lag, from counts kept up to date (for monitoring).",
    ),
    Endpoint(
        topology.CLEANUP_RECYCLE_LIST,
        views.Nothing,
        views.RecycleList,
        CLEANUP,
        (GATEWAY,),
        "Originals kept in the recycle folders, and the space they hold.",
    ),
    Endpoint(
        topology.CLEANUP_RECYCLE_RESTORE,
        views.RestoreRequest,
        views.Restored,
        CLEANUP,
        (GATEWAY,),
        "Put a job's kept original back under its name, the output moved away (refused if the file changed).",
    ),
    Endpoint(
        topology.HISTORY_LIST,
        views.HistoryQuery,
        views.HistoryPage,
        HISTORY,
        (GATEWAY,),
        "Finished files, newest first.",
    ),
    Endpoint(topology.HISTORY_STATS, views.Nothing, views.Stats, HISTORY, (GATEWAY,), "Totals."),
    Endpoint(
        topology.HISTORY_ENTRY,
        views.HistoryLookup,
        views.HistoryEntry,
        HISTORY,
        (GATEWAY,),
        "One finished file.",
    ),
    Endpoint(
        topology.HISTORY_CHARTS,
        views.ChartsQuery,
        views.Charts,
        HISTORY,
        (GATEWAY,),
        "The statistics page's aggregates.",
    ),
    Endpoint(
        topology.SOURCES_STATUS,
        views.Nothing,
        sources.SourcesStatus,
        SCANNER,
        (GATEWAY,),
        "Plex and Jellyfin as set up (never a token).",
    ),
    Endpoint(
        topology.SOURCES_PLEX_PIN_START,
        views.Nothing,
        sources.PlexPin,
        SCANNER,
        (GATEWAY,),
        "Start linking a Plex account with a PIN.",
    ),
    Endpoint(
        topology.SOURCES_PLEX_PIN_CHECK,
        views.Nothing,
        sources.PlexPin,
        SCANNER,
        (GATEWAY,),
        "Whether the PIN was entered at plex.tv/link.",
    ),
    Endpoint(
        topology.SOURCES_PLEX_SERVERS,
        views.Nothing,
        sources.PlexServers,
        SCANNER,
        (GATEWAY,),
        "The linked account's servers.",
    ),
    Endpoint(
        topology.SOURCES_PLEX_LIBRARIES,
        views.Nothing,
        sources.Libraries,
        SCANNER,
        (GATEWAY,),
        "The chosen Plex server's libraries.",
    ),
    Endpoint(
        topology.SOURCES_PLEX_SELECT,
        sources.PlexSelection,
        sources.PlexStatus,
        SCANNER,
        (GATEWAY,),
        "Choose the Plex server, libraries and mappings.",
    ),
    Endpoint(
        topology.SOURCES_PLEX_UNLINK,
        views.Nothing,
        sources.PlexStatus,
        SCANNER,
        (GATEWAY,),
        "Forget the Plex account.",
    ),
    Endpoint(
        topology.SOURCES_PLEX_TEST,
        views.Nothing,
        sources.PlexCheck,
        SCANNER,
        (GATEWAY,),
        "Try the chosen Plex server: its name and version, or why it did not answer.",
    ),
    Endpoint(
        topology.SOURCES_PLEX_ITEM,
        sources.PlexItem,
        sources.PlexItemTaken,
        SCANNER,
        (GATEWAY,),
        "A Plex webhook's new item: its files are mapped, checked and probed now.",
    ),
    Endpoint(
        topology.SOURCES_JELLYFIN_SET,
        sources.JellyfinSetup,
        sources.JellyfinStatus,
        SCANNER,
        (GATEWAY,),
        "Set Jellyfin's URL, API key, libraries and mappings.",
    ),
    Endpoint(
        topology.SOURCES_JELLYFIN_TEST,
        views.Nothing,
        sources.JellyfinCheck,
        SCANNER,
        (GATEWAY,),
        "Try the Jellyfin connection.",
    ),
    Endpoint(
        topology.SOURCES_JELLYFIN_LIBRARIES,
        views.Nothing,
        sources.Libraries,
        SCANNER,
        (GATEWAY,),
        "Jellyfin's libraries.",
    ),
    Endpoint(
        topology.SOURCES_SYNC,
        sources.SyncRequest,
        sources.SyncAccepted,
        SCANNER,
        (GATEWAY,),
        "Sync the files Plex and Jellyfin know, now.",
    ),
    Endpoint(
        topology.ARR_STATUS,
        views.Nothing,
        arr.ArrStatus,
        ARR,
        (GATEWAY,),
        "Sonarr, Radarr and Lidarr as set up (never an API key).",
    ),
    Endpoint(
        topology.ARR_SET,
        arr.ArrSetup,
        arr.ArrAppStatus,
        ARR,
        (GATEWAY,),
        "Set an Arr app's connection and what to do with it.",
    ),
    Endpoint(
        topology.ARR_TEST,
        arr.ArrTest,
        arr.ArrCheck,
        ARR,
        (GATEWAY,),
        "Try an Arr app's connection: its name and version, or why not.",
    ),
    Endpoint(
        topology.ARR_WEBHOOK_KEY,
        views.Nothing,
        arr.WebhookKey,
        ARR,
        (GATEWAY,),
        "Make a new key for the apps' webhooks (shown once; the old one stops working).",
    ),
    Endpoint(
        topology.ARR_WEBHOOK,
        arr.WebhookCall,
        arr.WebhookOutcome,
        ARR,
        (GATEWAY,),
        "An app's webhook call, with the key it presented: files imported, renamed or deleted.",
    ),
    Endpoint(
        topology.BACKUPS_LIST,
        views.Nothing,
        backups.BackupList,
        BACKUP,
        (GATEWAY,),
        "The backups in the backup folder, newest first, and the last backup's outcome.",
    ),
    Endpoint(
        topology.BACKUPS_CREATE,
        backups.CreateBackup,
        backups.BackupInfo,
        BACKUP,
        (GATEWAY,),
        "Make a backup now.",
    ),
    Endpoint(
        topology.BACKUPS_RESTORE,
        backups.RestoreBackup,
        backups.RestoreAccepted,
        BACKUP,
        (GATEWAY,),
        "Check a backup file, then restore it: the services stop, the records are replaced, they start again.",
    ),
)

BUCKETS: tuple[Bucket, ...] = (
    Bucket(
        topology.NODES,
        (views.NodeStatus,),
        (ENCODER,),
        (SCHEDULER, GATEWAY, INTEGRATION, ENCODER),
        "Each encoder node's live entry; it expires when the node stops writing it.",
        "the node's name",
        public=True,
    ),
    Bucket(
        topology.PROGRESS,
        (views.JobProgress,),
        (ENCODER,),
        (GATEWAY, INTEGRATION),
        "Each running job's progress: percent, fps, speed, ETA.",
        "the job's id",
        public=True,
    ),
    Bucket(
        topology.QUALITY,
        (quality.QualityMemory,),
        (ENCODER,),
        (ENCODER,),
        "Where each quality search ended, per series folder, resolution, encoder and target: the next search "
        "of that folder starts there.",
        "a digest of the folder, resolution, encoder, preset and target",
    ),
    Bucket(
        topology.SETTINGS,
        (
            settings.TranscodeSettings,
            settings.QueueControl,
            settings.NodeControl,
            settings.NodeSchedule,
            settings.ScannerFolders,
            settings.PathSettings,
            settings.UiSettings,
            settings.NotificationSettings,
            settings.NodeSlots,
            settings.ScannerTiming,
            settings.CleanupSettings,
            settings.RetrySettings,
            settings.QueueOrder,
            settings.StreamingSettings,
        ),
        (GATEWAY, BACKUP),
        (SCHEDULER, ENCODER, SCANNER, CLEANUP, GATEWAY, BACKUP),
        "Settings applied without restarts, and what users asked of the nodes and the queue.",
        "transcode, queue, node.<name>, schedule.<name>, slots.<name>, scanner.folders, scanner.timing, "
        "cleanup, scheduler.retries, scheduler.order, paths, ui, notifications, streaming",
        seeds=(
            (ENCODER, "slots.*"),
            (SCANNER, settings.SCANNER_TIMING_KEY),
            (CLEANUP, settings.CLEANUP_KEY),
            (SCHEDULER, settings.RETRIES_KEY),
        ),
    ),
    Bucket(
        topology.SCANS,
        (scans.ScanStatus,),
        (SCANNER, ARR),
        (GATEWAY, INTEGRATION),
        "Each scan's progress, and its outcome for a day.",
        "the scan's id",
        public=True,
    ),
    Bucket(
        topology.BACKUP_STATUS,
        (backups.BackupStatus,),
        (BACKUP,),
        (BACKUP, GATEWAY),
        "The last backup's outcome: when, the file or the error.",
        "status",
    ),
    Bucket(
        topology.PLAYBACK,
        (views.PlaybackState,),
        (SCANNER,),
        (ENCODER,),
        "The media servers on which someone is watching now: nodes pause while it lasts (the "
        "``streaming`` setting says which).",
        "active",
    ),
)

DURABLES: tuple[Durable, ...] = (
    *(
        Durable(
            spec,
            (ENCODER,),
            f"Transcodes for the {hw} nodes; the scheduler moves waiting ones when no {hw} node is live.",
            movers=(SCHEDULER,),
            advised=(SCHEDULER,),
        )
        for hw, spec in topology.WORK_CONSUMERS.items()
    ),
    *(
        Durable(spec, (ENCODER,), f"Segments of files encoded across the {hw} nodes.")
        for hw, spec in topology.SEGMENT_CONSUMERS.items()
    ),
    Durable(
        topology.CLEANUP_WORK,
        (CLEANUP,),
        "Approved deletions of stale files.",
        advised=(SCHEDULER,),
    ),
    Durable(topology.CLEANUP_CONTROL, (CLEANUP,), "Requests to look for stale files."),
    Durable(topology.SCHEDULER_CLEANUP, (SCHEDULER,), "Stale files found, to record as jobs."),
    Durable(topology.SCHEDULER_MEDIA, (SCHEDULER,), "Probed files, to turn into jobs."),
    Durable(topology.SCHEDULER_JOBS, (SCHEDULER,), "The workers' reports, to follow each job."),
    Durable(topology.HISTORY_JOBS, (HISTORY,), "The workers' reports, to keep the history."),
    Durable(topology.SCANNER_CONTROL, (SCANNER,), "Scans to run."),
    Durable(topology.ARR_WORK, (ARR,), "Renames to ask the Arr apps for.", advised=(SCHEDULER,)),
    Durable(topology.ARR_CONTROL, (ARR,), "Scans of the Arr apps to run."),
    Durable(topology.ARR_JOBS, (ARR,), "Replaced files, for their Arr app to rescan (and rename)."),
    Durable(topology.SCHEDULER_ARR, (SCHEDULER,), "What the Arr apps found or did, to record as jobs."),
    Durable(topology.SCANNER_RENAMES, (SCANNER,), "Files an Arr app renamed: the catalogue follows them."),
    Durable(topology.SCANNER_IMPORTS, (SCANNER,), "Files an Arr app imported: probed at once."),
    Durable(topology.HISTORY_RENAMES, (HISTORY,), "Files an Arr app renamed: their history follows them."),
    Durable(
        topology.SCANNER_JOBS, (SCANNER,), "Replaced files, to probe again and refresh Plex and Jellyfin."
    ),
)


@dataclass(frozen=True)
class Store:
    """An object store: who puts and removes its files, and who reads them."""

    spec: topology.StoreSpec
    writers: tuple[Role, ...]
    readers: tuple[Role, ...]
    summary: str


STORES: tuple[Store, ...] = (
    Store(
        topology.TRANSFERS,
        (ENCODER,),
        (ENCODER,),
        "Files that travel between encoder nodes as pieces of a job, named by job, attempt and piece; "
        "removed by the job once used, expired after two days.",
    ),
)

LOOKUPS: tuple[Lookup, ...] = (
    Lookup(
        topology.WORK,
        (SCHEDULER,),
        "The reconciler checks that a waiting job's work message is still in the stream; a job a user deletes "
        "has its waiting work messages taken out, so no encoder takes them.",
        removers=(SCHEDULER,),
    ),
    Lookup(
        topology.CONTROL,
        (SCANNER, ARR),
        "A scan about to start looks for a cancel sent before its command was taken (kept on the scan's own "
        "cancel subject).",
    ),
)

# Kept in a service's own database, never on the bus; part of the contract all the same (they outlive
# every version of the code that wrote them).
STORED: tuple[type[Any], ...] = (
    sources.PlexSettings,
    sources.JellyfinSettings,
    arr.ArrSettings,
    arr.WebhookSecret,
)


def channel_of(message_type: type[m.Message]) -> Channel:
    (found,) = (c for c in CHANNELS if message_type in c.messages)
    return found


def public_filters() -> tuple[str, ...]:
    """What the ``integration`` role may subscribe to."""
    kv = tuple(f"$KV.{b.spec.name}.>" for b in BUCKETS if b.public)
    return tuple(c.filter for c in CHANNELS if c.public) + kv
