"""The REST API's documented shapes (what the OpenAPI document describes)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class JobProgressOut(BaseModel):
    job_id: int
    path: str
    percent: float
    fps: float | None
    speed: float | None
    eta_seconds: float | None


class NodeOut(BaseModel):
    node: str
    hostname: str
    version: str
    classes: list[str]
    slots: int
    state: str
    jobs: list[int]
    progress: list[JobProgressOut]
    updated_at: datetime


class JobOut(BaseModel):
    id: int
    kind: str
    path: str
    status: str = Field(description="pending, running, done, failed or skipped")
    attempts: int
    node: str | None
    reason: str | None = Field(description="why it was skipped or failed")
    error_log: str | None
    codec_before: str | None
    size_before: int | None
    size_after: int | None
    output_path: str | None
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobsPageOut(BaseModel):
    items: list[JobOut]
    next_before_id: int | None = Field(description="pass as before_id for the next (older) page")
    counts: dict[str, int] = Field(description="jobs per status")


class HistoryEntryOut(BaseModel):
    id: int
    job_id: int
    status: str
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
    fallback_reason: str | None = Field(None, description="why the hardware encode gave way to the CPU")
    vmaf: float | None = Field(None, description="VMAF (0-100) of sampled segments, when it was measured")


class HistoryPageOut(BaseModel):
    items: list[HistoryEntryOut]
    next_before_id: int | None


class StatsOut(BaseModel):
    files_encoded: int
    files_skipped: int
    bytes_before: int
    bytes_after: int
    bytes_saved: int
    average_reduction: float
    jobs: dict[str, int] = Field(description="jobs per status")


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
