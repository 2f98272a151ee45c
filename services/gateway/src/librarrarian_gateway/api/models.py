"""The REST API's documented shapes. What the services send is made from the contract types
(``struct_models``), so it cannot drift from them; the gateway's own answers are written here."""

from __future__ import annotations

from typing import Literal

from librarrarian_contracts.quality import QualityChoice
from librarrarian_contracts.scans import ScanState, ScanStatus
from librarrarian_contracts.views import (
    Charts,
    HistoryEntry,
    HistoryPage,
    JobProgress,
    JobsPage,
    JobView,
    NodeStatus,
    RecycledOriginal,
    RecycleList,
    Restored,
    Stats,
)
from pydantic import BaseModel, Field

from .struct_models import list_of, model_of

JOB_FIELDS = {
    "status": "pending, awaiting_approval, running, ready_to_replace, done, failed or skipped",
    "reason": "why it was skipped or failed (for a pending job: why its last attempt failed)",
    "retry_at": "pending after a failed attempt: when the next attempt may start",
    "version": "grows by one with every change of the record (the live feed's job-state events carry it)",
    "streams": (
        "transcode: the audio and subtitle streams (source indexes, in order) its folder's track rules keep, "
        "planned when it was queued; null: every stream. The output is verified to hold exactly these"
    ),
    "track_plan": "transcode: one line per audio or subtitle stream its track plan drops, with why",
    "vmaf": "ready_to_replace: the waiting output's VMAF (0-100) on sampled segments, when it was measured",
    "previews": "ready_to_replace: a preview frame of each file is at /jobs/{id}/preview/original and /output",
}
JobOut = model_of(JobView, "JobOut", descriptions=JOB_FIELDS)
JobsPageOut = model_of(
    JobsPage,
    "JobsPageOut",
    items=(list_of(JobOut), ...),
    next_before_id=(int | None, Field(description="pass as before_id for the next (older) page")),
    counts=(dict[str, int], Field(description="jobs per status")),
)
QUALITY_FIELDS = {
    "mode": (
        "fixed: the level set for the encoder and resolution; target: the coarsest level whose sample encodes "
        "reached the target VMAF"
    ),
    "level": "the level used, on the encoder's own scale (CRF, CQ, global_quality, QP or VideoToolbox's -q:v)",
    "fixed_level": "the level fixed quality would have used for this file",
    "target": "target mode: the VMAF (0-100) asked for",
    "predicted": "the VMAF of the search's samples at the level chosen",
    "measured": "the finished file's mean VMAF over sampled segments",
    "low": "the 5th percentile of those segments' frame scores",
    "worst": "the worst segment's mean VMAF",
    "samples": "the sample encodes the search made",
    "search_seconds": "how long the search took",
    "reused": "the search started where the last file of the same series ended",
    "reencoded": "the first encode missed the target: this output is the second, one level better",
    "fixed_bytes": "the output's size at the fixed level, estimated from the samples (what the target saved)",
    "note": "why target mode was not applied (an HDR source: VMAF cannot judge PQ), or why the target was missed",
}
QualityChoiceOut = model_of(QualityChoice, "QualityChoiceOut", descriptions=QUALITY_FIELDS)
HistoryEntryOut = model_of(
    HistoryEntry,
    "HistoryEntryOut",
    descriptions={
        "fallback_reason": "why the hardware encode gave way to the CPU",
        "vmaf": "VMAF (0-100) of sampled segments, when it was measured",
    },
    quality=(
        QualityChoiceOut | None,
        Field(
            None,
            description="how the quality level was chosen (fixed or by target) and what the check measured; "
            "null for a skipped file and for entries recorded before it was kept",
        ),
    ),
)
HistoryPageOut = model_of(HistoryPage, "HistoryPageOut", items=(list_of(HistoryEntryOut), ...))
StatsOut = model_of(Stats, "StatsOut", jobs=(dict[str, int], Field(description="jobs per status")))
ChartsOut = model_of(
    Charts,
    "ChartsOut",
    descriptions={
        "quality_per_day": (
            "each UTC day with a measured VMAF or a target-mode file compared with fixed quality: the files "
            "measured and their mean VMAF, and the target-mode files whose size at the fixed level was estimated "
            "with the bytes they saved against it (that size less theirs; negative: the target cost bytes)"
        )
    },
)
RecycledOriginalOut = model_of(
    RecycledOriginal,
    "RecycledOriginalOut",
    descriptions={"kept_as": "its name in the recycle folder", "expires_at": "when the cleanup removes it"},
)
RecycleOut = model_of(
    RecycleList,
    "RecycleOut",
    descriptions={"bytes_held": "the space the recycle folders hold", "days": "how long originals are kept"},
    originals=(list_of(RecycledOriginalOut), ...),
)
RestoredOut = model_of(Restored, "RestoredOut")
JobProgressOut = model_of(
    JobProgress,
    "JobProgressOut",
    descriptions={
        "phase": (
            "searching: the quality search's sample encodes (target mode), percent being the search's own; "
            "encoding: the encode itself"
        )
    },
)
NodeOut = model_of(
    NodeStatus,
    "NodeOut",
    descriptions={"jobs": "the ids of the jobs it runs"},
    progress=(list_of(JobProgressOut), Field(description="each running job's progress")),
)
ScanOut = model_of(
    ScanStatus,
    "ScanOut",
    descriptions={
        "trigger": "request (the API or the dashboard), schedule, watch (new or changed files), plex or jellyfin",
        "seen": "videos found so far",
        "to_probe": "of those, new, changed or forced",
        "queued": "results published for the scheduler",
        "errors": "files that could not be probed",
        "held": "files still being written, left for later",
        "rate": "files probed per second",
    },
    scan_id=None,
    id=(str, ...),
    state=(
        ScanState | Literal["interrupted"],
        Field(description="queued, walking, probing, done, cancelled, failed or interrupted"),
    ),
)


class ScanIn(BaseModel):
    roots: list[str] = Field(default_factory=list, description="folders inside MEDIA_PATHS; empty for all")
    force: bool = Field(False, description="probe every file again, changed or not")


class ScanAccepted(BaseModel):
    id: str
    roots: list[str]
    force: bool


class NodeControlOut(BaseModel):
    node: str
    state: str = Field(description="what the node was asked to be: running, paused or stopped")
    now: bool = Field(description="stop: running jobs are stopped and handed to other nodes")


class QueueOut(BaseModel):
    paused: bool


class ActionOut(BaseModel):
    job_id: int
    detail: str
