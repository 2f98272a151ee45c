"""A job as this node carries it through the pipeline, and the outcome events it ends in. Each step returns
the job as the next step takes it (a :class:`Job`, then :class:`Planned`, :class:`Encoded`, :class:`Verified`)
or the job's outcome; every report is built here, with its deterministic event id."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from librarrarian_contracts import (
    JobCompleted,
    JobFailed,
    JobReport,
    JobSkipped,
    JobStarted,
    ReviewRequested,
    Transcode,
    WaitingOutput,
    report_id,
)
from librarrarian_contracts.quality import QualityChoice
from librarrarian_contracts.settings import TranscodeSettings
from librarrarian_contracts.sources import PathMapping
from librarrarian_runtime import path_mapping

from .folder import Folder
from .replace import Output

if TYPE_CHECKING:
    from .quality_choice import Chosen

# What a job ends in; None: another delivery holds the commit and reports the outcome, this one says nothing.
Outcome = JobCompleted | JobSkipped | JobFailed | ReviewRequested | None
# The end of ffmpeg's log a completion carries: its last lines are already few, but a line can be long.
MAX_LOG_CHARS = 16_000


@dataclass(frozen=True, kw_only=True)
class Job:
    """One delivery of a work message, as it came: nothing looked at yet."""

    request: Transcode
    delivery: int
    node: str
    # The settings and path mappings in force when the job started: a change applies from the next job, so
    # the output is encoded, checked and reported under the rules its source was found and planned with.
    transcode: TranscodeSettings
    mappings: tuple[PathMapping, ...]
    # What the user should know of the output, gathered on the way (metadata dropped, links replaced).
    notes: tuple[str, ...] = ()
    # Set once ffmpeg is done with the job (or the job ended before it ran): its slot may take the next job.
    slot_free: asyncio.Event = field(default_factory=asyncio.Event, compare=False)

    @property
    def id(self) -> int:
        return self.request.job_id

    def carried(self) -> dict[str, Any]:
        """Everything known so far, for the next stage to carry on."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def started(self) -> JobStarted:
        return JobStarted(
            event_id=self._event_id(JobStarted, self.delivery),
            job_id=self.id,
            attempt=self.request.attempt,
            delivery=self.delivery,
            node=self.node,
            path=self.request.path,
        )

    def failed(self, reason: str, detail: str = "", retryable: bool = True) -> JobFailed:
        return JobFailed(
            event_id=self._event_id(JobFailed),
            job_id=self.id,
            attempt=self.request.attempt,
            node=self.node,
            path=self.request.path,
            reason=reason,
            detail=detail,
            retryable=retryable,
            delivery=self.delivery,
        )

    def skipped(self, reason: str, size_after: int | None) -> JobSkipped:
        return JobSkipped(
            event_id=self._event_id(JobSkipped),
            job_id=self.id,
            attempt=self.request.attempt,
            node=self.node,
            path=self.request.path,
            reason=reason,
            size_before=self.request.identity.size,
            size_after=size_after,
            delivery=self.delivery,
        )

    def _completed(
        self,
        source: Path,
        final: Path,
        *,
        encoder: str,
        codec_after: str,
        size_after: int,
        duration: float | None,
        elapsed_seconds: float,
        fallback_reason: str | None = None,
        vmaf: float | None = None,
        ffmpeg_log: str | None = None,
        notes: tuple[str, ...] = (),
        recycled: str | None = None,
        quality: QualityChoice | None = None,
    ) -> JobCompleted:
        return JobCompleted(
            event_id=self._event_id(JobCompleted),
            job_id=self.id,
            attempt=self.request.attempt,
            node=self.node,
            path=self.request.path,
            output_path=self._server_path(source, final),
            encoder=encoder,
            codec_before=self.request.probe.video_codec,
            codec_after=codec_after,
            size_before=self.request.identity.size,
            size_after=size_after,
            duration=duration,
            elapsed_seconds=elapsed_seconds,
            fallback_reason=fallback_reason,
            vmaf=vmaf,
            recycled=recycled,
            delivery=self.delivery,
            ffmpeg_log=ffmpeg_log[-MAX_LOG_CHARS:] if ffmpeg_log else None,
            notes=notes,
            quality=quality,
        )

    def _event_id(self, kind: type[JobReport], delivery: int | None = None) -> str:
        return report_id(kind, self.id, self.request.attempt, delivery)

    def _server_path(self, source: Path, final: Path) -> str:
        """The output as the server sees it. It lies beside the source, so it is named from the job's own
        path: two server folders may map to one folder here, and only the job's path says which one it came
        through."""
        path = self.request.path
        if final.parent == source.parent and path.endswith(source.name):
            return path[: len(path) - len(source.name)] + final.name
        return path_mapping.to_server(str(final), self.mappings)  # the source was reached through a symlink


@dataclass(frozen=True, kw_only=True)
class Planned(Job):
    """Checked and announced: the file is the one scanned, inside the media paths, with its output's place."""

    source: Path  # the original, as this node reaches it
    final: Path  # where the output ends up: the source's own path, or beside it when the container changes
    folder: Folder  # the source's folder, opened: every name in it is used relative to it
    original: int  # the original, opened to read: what ffmpeg reads, whatever its name holds later
    output: Output  # the temporary output beside the original (same file system: the rename is atomic)
    started_at: float = field(default_factory=time.monotonic)

    @property
    def temp(self) -> Path:
        return self.folder.path / self.output.name


@dataclass(frozen=True, kw_only=True)
class Encoded(Planned):
    """ffmpeg wrote the output."""

    encoder: str
    fallback_reason: str | None  # why the job's hardware class gave way to the CPU
    ffmpeg_log: str  # its last lines, for a failure found later
    chosen: Chosen | None = None  # the quality it was encoded at, and how that was chosen


@dataclass(frozen=True, kw_only=True)
class Verified(Encoded):
    """The output on disk is safe to replace the original with, and not too large."""

    size_after: int
    codec_after: str
    duration: float | None
    vmaf: float | None
    quality: QualityChoice | None = None  # with what the check measured

    def completed(self, links_replaced: int = 1, recycled: str | None = None) -> JobCompleted:
        notes = self.notes
        if links_replaced > 1:
            notes += (
                f"replaced 1 of {links_replaced} links: the other names keep the old file (no space saved)",
            )
        return self._completed(
            self.source,
            self.final,
            notes=notes,
            encoder=self.encoder,
            codec_after=self.codec_after,
            size_after=self.size_after,
            duration=self.duration,
            elapsed_seconds=round(time.monotonic() - self.started_at, 3),
            fallback_reason=self.fallback_reason,
            vmaf=self.vmaf,
            ffmpeg_log=self.ffmpeg_log,
            recycled=recycled,
            quality=self.quality,
        )

    def kept(
        self, waiting: WaitingOutput, previews: tuple[bytes, bytes] | None, preview_at: float | None
    ) -> ReviewRequested:
        """The output waits beside the original for a user's review (its library folder is reviewed)."""
        return ReviewRequested(
            event_id=self._event_id(ReviewRequested),
            job_id=self.id,
            attempt=self.request.attempt,
            node=self.node,
            path=self.request.path,
            output_path=self._server_path(self.source, self.folder.path / waiting.name),
            output=waiting,
            size_before=self.request.identity.size,
            size_after=self.size_after,
            elapsed_seconds=round(time.monotonic() - self.started_at, 3),
            delivery=self.delivery,
            notes=self.notes,
            previews=previews,
            preview_at=preview_at,
        )


@dataclass(frozen=True, kw_only=True)
class Decided(Job):
    """A user's decision on the output an earlier attempt kept for review (``Transcode.decision``): its
    folder opened, and the waiting output opened in it once checked to be the file kept (``output``)."""

    source: Path
    final: Path
    folder: Folder
    output: Output
    waiting: WaitingOutput
    started_at: float = field(default_factory=time.monotonic)

    @property
    def size_after(self) -> int:
        return self.waiting.identity.size

    def completed(self, links_replaced: int = 1, recycled: str | None = None) -> JobCompleted:
        notes = (*self.notes, "accepted in review")
        if links_replaced > 1:
            notes += (
                f"replaced 1 of {links_replaced} links: the other names keep the old file (no space saved)",
            )
        return self._completed(
            self.source,
            self.final,
            notes=notes,
            encoder=self.waiting.encoder,
            codec_after=self.waiting.codec,
            size_after=self.size_after,
            duration=self.waiting.duration,
            elapsed_seconds=round(time.monotonic() - self.started_at, 3),
            vmaf=self.waiting.vmaf,
            recycled=recycled,
        )


@dataclass(frozen=True, kw_only=True)
class Leftover(Job):
    """An earlier attempt put its verified output at ``final`` and died before reporting it: the job is to
    finish that replace, not to encode again. When ``final`` is another name than the original (``source``,
    of another container), the original's removal may still be to do; when it is the same name, the rename
    was the last step and the original is in the recycle folder (``recycled``)."""

    source: Path
    final: Path
    folder: Folder
    recycled: str | None = None

    def completed(self, size_after: int) -> JobCompleted:
        return self._completed(
            self.source,
            self.final,
            encoder="unknown (an earlier attempt)",
            codec_after=self.request.target_codec,
            size_after=size_after,
            duration=self.request.probe.duration,
            elapsed_seconds=0.0,
            recycled=self.recycled,
        )
