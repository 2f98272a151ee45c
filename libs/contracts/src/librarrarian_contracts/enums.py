"""The closed sets the contract speaks of. Each is a ``StrEnum``: it travels as its plain value and compares
equal to it, so SQL rows, templates and JSON keep using the strings."""

from __future__ import annotations

from enum import StrEnum


class HwClass(StrEnum):
    """A kind of encoding hardware; each has its own work consumer."""

    NVENC = "nvenc"
    QSV = "qsv"
    VAAPI = "vaapi"
    VIDEOTOOLBOX = "videotoolbox"
    CPU = "cpu"


class JobKind(StrEnum):
    TRANSCODE = "transcode"
    CLEANUP = "cleanup"  # delete a stale temporary or lock file, once a user approved it
    RENAME = "rename"  # ask an Arr app to rename a file to its naming scheme
    QUALITY_MISMATCH = "quality_mismatch"  # a file below its Arr quality cutoff, for a user to review


class ArrApp(StrEnum):
    """The Arr apps Librarrarian talks to, each through its own API version."""

    SONARR = "sonarr"  # API v3 (Sonarr v3 and v4)
    RADARR = "radarr"  # API v3
    LIDARR = "lidarr"  # API v1


class JobStatus(StrEnum):
    """A job's state in the scheduler's record."""

    AWAITING_APPROVAL = "awaiting_approval"  # found, waits for a user to release it
    PENDING = "pending"  # queued; a retry waits here until its ``retry_at``
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # for good: no attempt is left, or retrying cannot help
    SKIPPED = "skipped"
    # Its library folder is reviewed: the verified output waits beside the original (holding no slot) until a
    # user accepts it (it then replaces the original) or rejects it (it is deleted, the original untouched).
    READY_TO_REPLACE = "ready_to_replace"


IN_FLIGHT: frozenset[JobStatus] = frozenset({JobStatus.PENDING, JobStatus.RUNNING})
FINISHED: frozenset[JobStatus] = frozenset({JobStatus.DONE, JobStatus.FAILED, JobStatus.SKIPPED})


class JobChange(StrEnum):
    """What happened to a job's record: the transition a ``JobStateChanged`` reports."""

    QUEUED = "queued"  # a new job or a user's retry: pending, its work published
    AWAITING_APPROVAL = "awaiting_approval"
    RELEASED = "released"  # a user approved it: pending, its work published
    RUNNING = "running"  # a node started it (again, after a redelivery to another node)
    RETRY_SCHEDULED = "retry_scheduled"  # an attempt failed; pending until ``retry_at``
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"
    REMOVED = "removed"  # a user deleted it (or its Arr app deleted the file); the record is gone
    MOVED = "moved"  # its Arr app renamed the file: the job follows it to its new name
    READY_TO_REPLACE = "ready_to_replace"  # its verified output waits for a user's review
    ACCEPTED = "accepted"  # a user accepted its output: pending, the replace queued
    REJECTED = "rejected"  # a user rejected its output: pending, the output's deletion queued


class NodeState(StrEnum):
    """What an encoder node is doing (its ``nodes`` entry); what a user asked of it is ``NodeControl``."""

    RUNNING = "running"
    QUEUE_PAUSED = "queue paused"  # the node would take work, but the queue is paused
    OFF_SCHEDULE = "off schedule"  # outside its schedule's windows: takes no work, its running jobs finish
    PAUSED = "paused"  # takes no work; its encodes are suspended
    # Paused on its own while someone watches on Plex or Jellyfin (``StreamingSettings``): takes no work, its
    # encodes are suspended, and it runs again when the playback ends. ``NodeStatus.paused_for`` says why.
    PAUSED_FOR_PLAYBACK = "paused for playback"
    DRAINING = "draining"  # stopped by a user: takes no work, its running jobs finish
    STOPPED = "stopped"
    STOPPING = "stopping"  # the process is shutting down


class FfmpegOrigin(StrEnum):
    """Where an ffmpeg a node runs comes from."""

    FFMPEG_PATH = "FFMPEG_PATH"  # the user's choice, for every purpose
    SYSTEM = "system"  # ``ffmpeg`` on PATH: a distribution's, or a vendor's with hardware support
    BUNDLED = "bundled"  # the static build in the imageio-ffmpeg wheel


class StreamKind(StrEnum):
    VIDEO = "video"
    AUDIO = "audio"
    SUBTITLE = "subtitle"
    ATTACHMENT = "attachment"
    DATA = "data"


class ScanTrigger(StrEnum):
    """What started a scan."""

    REQUEST = "request"
    SCHEDULE = "schedule"
    WATCH = "watch"
    PLEX = "plex"
    JELLYFIN = "jellyfin"
    ARR = "arr"  # an Arr app's webhook: a file it just imported
