"""Dynamic settings and desired states, kept in the ``settings`` KV bucket: every service watches what it
uses, so a change applies without a restart.

- key ``transcode``: :class:`TranscodeSettings` (what to encode, how, and when to skip);
- key ``queue``: :class:`QueueControl`; key ``node.<name>``: :class:`NodeControl`; key ``schedule.<name>``:
  :class:`NodeSchedule` (when the node takes work); key ``slots.<name>``: :class:`NodeSlots` (encodes at once);
- key ``scanner.timing``: :class:`ScannerTiming`; key ``cleanup``: :class:`CleanupSettings`; key
  ``scheduler.retries``: :class:`RetrySettings`; key ``scheduler.order``: :class:`QueueOrder`;
- key ``scanner.folders``: :class:`ScannerFolders`; key ``paths``: :class:`PathSettings` (encoder path
  mappings); key ``ui``: :class:`UiSettings` (the dashboard's theme); key ``notifications``:
  :class:`NotificationSettings` (which events are notified; the URLs themselves are secrets the gateway keeps
  in its database, never here, where every node can read); key ``streaming``: :class:`StreamingSettings`
  (which nodes pause while someone watches on Plex or Jellyfin).

A missing key means the defaults. The keys a service seeds (``slots.<name>``, ``scanner.timing``, ``cleanup``,
``scheduler.retries``) get its environment's value when the service first starts and finds none: the
environment is the first-start default, the bucket the truth from then on. Every struct validates on decode, so a bad value written by hand is refused
by the writer's API and ignored (with a log line) by the readers, never half-applied.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

import msgspec

from .enums import HwClass
from .quality import QualityMode
from .stamps import utcnow

TRANSCODE_KEY = "transcode"
QUEUE_KEY = "queue"


def _key_part(node: str) -> str:
    # KV keys allow only ``[-/_=.a-zA-Z0-9]``, node names may hold more; no dot, so one node's key is
    # never a prefix of another's.
    return re.sub(r"[^-_=a-zA-Z0-9]", "_", node)


def node_key(node: str) -> str:
    """The ``control`` key of a node."""
    return "node." + _key_part(node)


def slots_key(node: str) -> str:
    """The key of a node's :class:`NodeSlots`."""
    return "slots." + _key_part(node)


def schedule_key(node: str) -> str:
    """The key of a node's :class:`NodeSchedule`: apart from its control, so that starting or stopping a
    node never touches its schedule."""
    return "schedule." + _key_part(node)


class Tier(StrEnum):
    SD = "sd"
    HD720 = "720p"
    HD1080 = "1080p"
    UHD = "4k"


def tier_of(width: int | None, height: int | None) -> Tier:
    """The resolution class of a picture, by its long side or its short side scaled to 16:9, whichever says
    more: 1920x800 (scope) is 1080p, 1440x1080 (4:3) is 1080p, a portrait 1080x1920 is 1080p."""
    if not width or not height:
        return Tier.HD1080
    long_side, short_side = max(width, height), min(width, height)
    size = max(long_side, short_side * 16 / 9)
    if size >= 2880:
        return Tier.UHD
    if size >= 1600:
        return Tier.HD1080
    if size >= 1120:
        return Tier.HD720
    return Tier.SD


Level = Annotated[int, msgspec.Meta(ge=0, le=100)]


class Quality(msgspec.Struct, frozen=True, kw_only=True):
    """``level`` is the encoder's own quality scale: CRF (x265, SVT-AV1), CQ (NVENC), global_quality (QSV),
    QP (VAAPI) — lower is better for all of these — or ``-q:v`` (VideoToolbox, 1-100, higher is better)."""

    level: Level
    preset: str = ""
    ten_bit: bool = False  # force 10-bit output; 10-bit sources (HDR) stay 10-bit either way


class TierQuality(msgspec.Struct, frozen=True, kw_only=True):
    sd: Quality
    hd720: Quality = msgspec.field(name="720p")
    hd1080: Quality = msgspec.field(name="1080p")
    uhd: Quality = msgspec.field(name="4k")

    def for_tier(self, tier: Tier) -> Quality:
        return {Tier.SD: self.sd, Tier.HD720: self.hd720, Tier.HD1080: self.hd1080, Tier.UHD: self.uhd}[tier]


def _tiers(preset: str, sd: int, hd720: int, hd1080: int, uhd: int) -> TierQuality:
    return TierQuality(
        sd=Quality(level=sd, preset=preset),
        hd720=Quality(level=hd720, preset=preset),
        hd1080=Quality(level=hd1080, preset=preset),
        uhd=Quality(level=uhd, preset=preset),
    )


class EncoderFamily(StrEnum):
    """Encoders that share one quality scale; the key of :attr:`TranscodeSettings.quality`."""

    X265 = "x265"
    SVTAV1 = "svtav1"
    NVENC = "nvenc"
    QSV = "qsv"
    VAAPI = "vaapi"
    VIDEOTOOLBOX = "videotoolbox"


class LevelRange(msgspec.Struct, frozen=True, kw_only=True):
    """The levels a quality search may choose from, on the encoder's own scale: ``best`` the finest it may
    spend bytes on, ``worst`` the coarsest it may save them with."""

    best: Level
    worst: Level


def _default_level_ranges() -> dict[str, LevelRange]:
    return {
        EncoderFamily.X265: LevelRange(best=16, worst=34),
        EncoderFamily.SVTAV1: LevelRange(best=20, worst=50),
        EncoderFamily.NVENC: LevelRange(best=18, worst=38),
        EncoderFamily.QSV: LevelRange(best=16, worst=36),
        EncoderFamily.VAAPI: LevelRange(best=16, worst=36),
        EncoderFamily.VIDEOTOOLBOX: LevelRange(best=85, worst=40),  # higher is better on its scale
    }


def _default_quality() -> dict[str, TierQuality]:
    return {
        # x265's: each tier's typical level for VMAF 95 in ``make bench-quality`` (the lower median of its clips'
        # coarsest passing CRFs); 4k has no clip there (too slow to encode on the bench machine) and keeps 26.
        EncoderFamily.X265: _tiers("medium", 23, 21, 20, 26),
        EncoderFamily.SVTAV1: _tiers("8", 30, 31, 32, 34),
        EncoderFamily.NVENC: _tiers("p5", 24, 25, 26, 28),
        EncoderFamily.QSV: _tiers("medium", 22, 23, 24, 26),
        EncoderFamily.VAAPI: _tiers("", 22, 23, 24, 26),
        EncoderFamily.VIDEOTOOLBOX: _tiers("", 60, 58, 55, 50),
    }


TargetCodec = Literal["hevc", "av1"]
EncoderPriority = Literal["auto", "nvidia", "intel", "cpu"]

# Which hardware classes each priority setting tries, in order. CPU is always last: every node can do it.
PRIORITY_CLASSES: dict[str, tuple[HwClass, ...]] = {
    "auto": (HwClass.NVENC, HwClass.QSV, HwClass.VAAPI, HwClass.VIDEOTOOLBOX, HwClass.CPU),
    "nvidia": (HwClass.NVENC, HwClass.CPU),
    "intel": (HwClass.QSV, HwClass.VAAPI, HwClass.CPU),
    "cpu": (HwClass.CPU,),
}


RECYCLE_FIRST_DAYS = 14


class TranscodeSettings(msgspec.Struct, frozen=True, kw_only=True):
    target_codec: TargetCodec = "hevc"
    encoder_priority: EncoderPriority = "auto"
    # Codecs that are re-encoded although already efficient. The target codec itself never is.
    reencode_hevc: bool = False
    reencode_av1: bool = False
    reencode_vp9: bool = True
    min_size_mb: Annotated[float, msgspec.Meta(ge=0)] = 0.0  # smaller files are skipped
    # Keep the original (job skipped) when the output is larger than this share of it.
    max_output_percent: Annotated[float, msgspec.Meta(gt=0, le=1000)] = 100.0
    container: Literal["keep", "mkv"] = "keep"  # keep MP4/MOV/MKV as they are, or make everything MKV
    # An encode whose progress has not moved for this long is stopped and its attempt failed.
    stall_seconds: Annotated[float, msgspec.Meta(ge=10)] = 300.0
    # VMAF of sampled segments after each encode, shown in the history (costs the time of decoding them).
    measure_vmaf: bool = False
    # Skip every Dolby Vision file (profile 5, whose base layer alone shows wrong colours, is always skipped;
    # the others are transcoded keeping their HDR10 base layer, and Dolby Vision where the encoder can).
    skip_dolby_vision: bool = False
    # Replace a file that has other names (hard links: a download client seeding it, a second library).
    # Off: such a file is skipped, since the old data stays alive through its other names (no space saved).
    replace_hard_links: bool = False
    # Keep each replaced original in the recycle folder (``.librarrarian-recycle`` at the top of its media
    # path) for ``cleanup.recycle_days``. None (not chosen): on for an installation's first RECYCLE_FIRST_DAYS.
    recycle: bool | None = None
    quality: dict[str, TierQuality] = msgspec.field(default_factory=_default_quality)
    # ``fixed``: the level of ``quality`` for the encoder and resolution. ``target``: a search per file for the
    # coarsest level whose samples reach ``target_vmaf``, within ``target_levels``; HDR sources stay fixed.
    quality_mode: QualityMode = "fixed"
    target_vmaf: Annotated[float, msgspec.Meta(ge=50, le=99.5)] = 95.0
    target_levels: dict[str, LevelRange] = msgspec.field(default_factory=_default_level_ranges)
    # Files at least this many minutes long are encoded in segments by every node of the job's class at once,
    # then joined on the node that took the job; 0: never (one node encodes each file whole).
    segment_min_minutes: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    segment_seconds: Annotated[float, msgspec.Meta(ge=10, le=3600)] = 60.0  # about how long each segment is
    # The largest file that travels between nodes (a segment's video, or a source for a node without the
    # library): a larger one is refused before a byte moves.
    transfer_limit_gb: Annotated[float, msgspec.Meta(gt=0)] = 100.0

    def segments_for(self, duration: float | None) -> bool:
        """Whether a file of ``duration`` seconds is encoded in segments."""
        return bool(self.segment_min_minutes) and (duration or 0.0) >= self.segment_min_minutes * 60

    def __post_init__(self) -> None:
        for family, levels in self.target_levels.items():
            reversed_scale = family == EncoderFamily.VIDEOTOOLBOX  # its -q:v: higher is better
            if (levels.best < levels.worst) if reversed_scale else (levels.best > levels.worst):
                raise ValueError(
                    f"target_levels.{family}: best {levels.best} is coarser than worst {levels.worst}"
                )

    def recycles(self, installed_at: float | None, now: float) -> bool:
        """Whether a replaced original goes to the recycle folder: as chosen, or, not chosen, while the
        installation is new (its age unknown: yes)."""
        if self.recycle is not None:
            return self.recycle
        return installed_at is None or now - installed_at < RECYCLE_FIRST_DAYS * 86_400

    def eligible(self, codec: str | None) -> tuple[bool, str]:
        """Whether a video in ``codec`` is worth encoding, with the reason when not."""
        if codec is None:
            return False, "no video stream"
        if codec == self.target_codec:
            return False, f"already {codec.upper()}"
        toggles = {"hevc": self.reencode_hevc, "av1": self.reencode_av1, "vp9": self.reencode_vp9}
        if codec in toggles and not toggles[codec]:
            return False, f"{codec.upper()} is not selected for re-encoding"
        return True, ""

    def quality_for(self, family: EncoderFamily, width: int | None, height: int | None) -> Quality:
        tiers = self.quality.get(family) or _default_quality()[family]
        return tiers.for_tier(tier_of(width, height))

    def levels_for(self, family: EncoderFamily) -> LevelRange:
        return self.target_levels.get(family) or _default_level_ranges()[family]


class QueueControl(msgspec.Struct, frozen=True, kw_only=True):
    """Paused: no encoder takes new work; running encodes go on."""

    paused: bool = False
    updated_at: datetime = msgspec.field(default_factory=utcnow)


DesiredState = Literal["running", "paused", "stopped"]


class NodeControl(msgspec.Struct, frozen=True, kw_only=True):
    """What the user wants a node to do; the node's ``nodes`` entry says what it does.

    - running: takes work.
    - paused: takes no work; its running encodes are suspended (ffmpeg SIGSTOP) and keep their lease.
    - stopped: takes no work; with ``now`` its running encodes are stopped and handed to other nodes,
      otherwise they finish first.
    """

    state: DesiredState = "running"
    now: bool = False
    updated_at: datetime = msgspec.field(default_factory=utcnow)


# --- when a node takes work (key ``schedule.<name>``) --------------------------------------------

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ClockTime = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
MAX_WINDOWS = 64


class ScheduleWindow(msgspec.Struct, frozen=True, kw_only=True):
    """From ``start`` to ``end`` (``HH:MM``, in the node's time zone, its ``TZ``), opening on each of
    ``days``. An ``end`` at or before ``start`` falls on the next day: 22:00-06:00 runs overnight, and
    00:00-00:00 is the whole day."""

    days: Annotated[tuple[Weekday, ...], msgspec.Meta(min_length=1, max_length=7)] = WEEKDAYS
    start: ClockTime
    end: ClockTime

    def __post_init__(self) -> None:
        if len(set(self.days)) != len(self.days):
            raise ValueError("a day is named twice")


class NodeSchedule(msgspec.Struct, frozen=True, kw_only=True):
    """When a node takes work. Outside its windows it finishes the jobs it runs and takes no more; no window
    (the default) means at any time."""

    windows: Annotated[tuple[ScheduleWindow, ...], msgspec.Meta(max_length=MAX_WINDOWS)] = ()
    updated_at: datetime = msgspec.field(default_factory=utcnow)


# --- library folders (key ``scanner.folders``) --------------------------------------------------

FOLDERS_KEY = "scanner.folders"

# ``mixed``: a folder whose type nobody chose (the default for each media path); ``none``: never scanned.
MediaType = Literal["movies", "tv", "music_videos", "mixed", "none"]
MEDIA_TYPES: tuple[str, ...] = ("movies", "tv", "music_videos", "mixed", "none")


MAX_TRACK_LANGUAGES = 32
# An ISO 639-2 code (``eng``, ``fre`` or ``fra``), or a two-letter ISO 639-1 one (``en``).
TrackLanguage = Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2,3}$")]


class TrackRules(msgspec.Struct, frozen=True, kw_only=True):
    """Which audio and subtitle tracks a transcode keeps (see ``tracks.plan``). A copy of the file's other
    streams is untouched: only a transcode applies these, and the job shows its plan before it runs.

    ``languages`` empty: every language. Tracks with no language tag, and the file's original language
    (its default audio track's, else its first audio track's), are always kept, and so is at least one
    audio track."""

    languages: Annotated[tuple[TrackLanguage, ...], msgspec.Meta(max_length=MAX_TRACK_LANGUAGES)] = ()
    drop_commentary: bool = False
    image_subtitles: bool = True  # keep PGS, VobSub and DVB subtitles

    def keeps_everything(self) -> bool:
        return not self.languages and not self.drop_commentary and self.image_subtitles


class LibraryFolder(msgspec.Struct, frozen=True, kw_only=True):
    """A folder inside the media paths and the kind of videos it holds. Folders may nest: a file belongs
    to the most specific one, so a ``none`` folder inside a scanned one leaves that subtree out. ``tracks``:
    the tracks a transcode of its files keeps (None: all of them)."""

    path: str
    type: MediaType = "mixed"
    tracks: TrackRules | None = None
    # With the queue ordered by folder: its files' transcodes go first when higher (0 by default).
    priority: Annotated[int, msgspec.Meta(ge=-100, le=100)] = 0
    # Review before replace: a transcode's verified output waits as "ready to replace" until a user accepts
    # it (it replaces the original) or rejects it (it is deleted). Decided when a job is queued.
    review: bool = False


class ScannerFolders(msgspec.Struct, frozen=True, kw_only=True):
    """The scanner's library folders; empty (the default) means each media path as one ``mixed`` folder."""

    folders: tuple[LibraryFolder, ...] = ()


# --- path mappings for encoder nodes (key ``paths``) ---------------------------------------------

PATHS_KEY = "paths"
MAX_PATH_MAPPINGS = 256
NodeName = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
PathText = Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# The server's side may be a POSIX path, a Windows drive path (``D:\\Movies``) or a share (``\\\\nas\\media``).
_SERVER_ABSOLUTE = re.compile(r"^(/|[A-Za-z]:[\\/]|\\\\)")


def server_folder(path: str) -> str:
    """What makes two server paths the same folder: trailing separators aside, and for a Windows path
    (matched without regard to case, either slash) its lower-case form with backslashes."""
    if "\\" in path or path[1:2] == ":":
        path = path.replace("/", "\\").lower()
    stripped = path.rstrip("/\\")
    return stripped or path[:1]


class NodePathMapping(msgspec.Struct, frozen=True, kw_only=True):
    """A folder as the server sees it (the paths in work messages: POSIX, ``D:\\Movies`` or
    ``\\\\nas\\media``) and the same folder on an encoder node (absolute, no ``..``); ``node`` None: every
    node."""

    server: PathText
    local: PathText
    node: NodeName | None = None

    def __post_init__(self) -> None:
        if _CONTROL.search(self.server + self.local + (self.node or "")):
            raise ValueError("paths and node names must not hold control characters (line breaks, tabs)")
        if not _SERVER_ABSOLUTE.match(self.server):
            raise ValueError(f"the server path {self.server!r} must be absolute (/…, D:\\… or \\\\share\\…)")
        if not self.local.startswith("/"):
            raise ValueError(f"the local path {self.local!r} must be absolute (start with /)")
        if ".." in self.local.split("/"):
            raise ValueError(f"the local path {self.local!r} must not go up with '..'")
        if self.node is not None and self.node != self.node.strip():
            raise ValueError(f"the node name {self.node!r} must not start or end with a space")


class PathSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Path mappings for encoder nodes, beside each node's own ``PATH_MAPPINGS``. On the same server folder
    the node's ``PATH_MAPPINGS`` wins (it is the node's own truth), then a mapping for that node, then one
    for every node; among the rest the longest matching server folder wins. A mapped path must still lie
    inside the node's ``MEDIA_PATHS``: a mapping never widens what a node may touch."""

    mappings: Annotated[tuple[NodePathMapping, ...], msgspec.Meta(max_length=MAX_PATH_MAPPINGS)] = ()

    def __post_init__(self) -> None:
        seen: set[tuple[str | None, str]] = set()
        for mapping in self.mappings:
            key = (mapping.node, server_folder(mapping.server))
            if key in seen:
                where = f"node {mapping.node!r}" if mapping.node is not None else "all nodes"
                raise ValueError(f"{mapping.server!r} is mapped twice for {where}")
            seen.add(key)


# --- the dashboard (key ``ui``) -------------------------------------------------------------------

UI_KEY = "ui"
Theme = Literal["system", "light", "dark"]
THEMES: tuple[str, ...] = ("system", "light", "dark")


class UiSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How the dashboard looks, for every browser: ``system`` follows each browser's light or dark mode."""

    theme: Theme = "system"


# --- notifications (key ``notifications``) -------------------------------------------------------

NOTIFICATIONS_KEY = "notifications"
NotifyEvent = Literal["job_failed", "node_offline", "queue_drained", "backup_failed", "version_mismatch"]
NOTIFY_EVENTS: tuple[NotifyEvent, ...] = (
    "job_failed",
    "node_offline",
    "queue_drained",
    "backup_failed",
    "version_mismatch",
)


class NotificationSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Which events the gateway sends to the notification URLs, and the window that gathers a storm of one
    event into one message: the first opens it, every one until it closes joins the same message."""

    events: tuple[NotifyEvent, ...] = NOTIFY_EVENTS
    window_seconds: Annotated[float, msgspec.Meta(gt=0, le=86_400)] = 60.0


# --- what each service runs at once and how often (seeded from the environment at first start) -----

MAX_SLOTS = 32
SlotCount = Annotated[int, msgspec.Meta(ge=1, le=MAX_SLOTS)]


def _one_slot_each() -> dict[HwClass, int]:
    return dict.fromkeys(HwClass, 1)


class NodeSlots(msgspec.Struct, frozen=True, kw_only=True):
    """Encodes a node runs at once, per hardware class (key ``slots.<name>``); a class not named gets 1. The
    node applies a change at once: a new slot starts taking work, a slot taken away finishes its job first."""

    slots: dict[HwClass, SlotCount] = msgspec.field(default_factory=_one_slot_each)

    def of(self, hw: HwClass) -> int:
        return self.slots.get(hw, 1)


SCANNER_TIMING_KEY = "scanner.timing"


class ScannerTiming(msgspec.Struct, frozen=True, kw_only=True):
    """How often the scanner scans the folders and syncs Plex and Jellyfin on its own (0: only when asked)."""

    scan_interval_seconds: Annotated[float, msgspec.Meta(ge=0, le=7 * 86_400)] = 300.0


CLEANUP_KEY = "cleanup"


class CleanupSettings(msgspec.Struct, frozen=True, kw_only=True):
    """A ``.tmp_*`` or ``*.lock`` file untouched for ``stale_after_hours`` is offered for deletion; the cleanup
    service looks for them every ``interval_hours`` (0: only when asked)."""

    stale_after_hours: Annotated[float, msgspec.Meta(ge=1, le=8_760)] = 24.0
    interval_hours: Annotated[float, msgspec.Meta(ge=0, le=8_760)] = 24.0
    # Originals in the recycle folder older than this are removed on the same interval.
    recycle_days: Annotated[float, msgspec.Meta(ge=0, le=3_650)] = 7.0


RETRIES_KEY = "scheduler.retries"
ORDER_KEY = "scheduler.order"
QueueOrderBy = Literal["benefit", "age", "folder"]


class QueueOrder(msgspec.Struct, frozen=True, kw_only=True):
    """In which order waiting transcodes go to the encoders. Encoders take work in the order of the WORK
    stream, so the scheduler keeps only ``window`` waiting messages per hardware class there and releases the
    next from its own ordered queue as encoders take them: the rest of the queue is reordered at any time.

    - ``benefit``: the largest expected saving first (the source's bits per pixel times its size);
    - ``age``: the oldest first (the order the files were found);
    - ``folder``: the library folders' ``priority`` (highest first), then the oldest.

    A job moved to the top or bottom by hand goes before (after) all the others, whatever the order."""

    order: QueueOrderBy = "age"
    window: Annotated[int, msgspec.Meta(ge=1, le=64)] = 3


class RetrySettings(msgspec.Struct, frozen=True, kw_only=True):
    """Tries per job before the scheduler marks it failed for good."""

    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=100)] = 3


STREAMING_KEY = "streaming"
PauseWhileStreaming = Literal["off", "same_machine", "all"]
PAUSE_WHILE_STREAMING: tuple[str, ...] = ("off", "same_machine", "all")


class StreamingSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Which nodes pause their encodes while Plex or Jellyfin report someone watching (a session playing),
    resuming when it ends: ``off`` none; ``same_machine`` (the default) the nodes on the media server's own
    machine, whose CPU or GPU the playback's transcode needs; ``all`` every node (a slow network, a NAS
    serving both). The scanner asks the servers only while it is not ``off``."""

    pause_while_streaming: PauseWhileStreaming = "same_machine"
