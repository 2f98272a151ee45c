"""Every change of a job's record is published as a ``JobStateChanged`` (real NATS and PostgreSQL): the
whole record after the change, in order, with a version that grows by one each time, and the time of the
next try when a retry is scheduled."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from librarrarian_contracts import (
    CleanupFinished,
    FileIdentity,
    JobCompleted,
    JobFailed,
    JobStarted,
    MediaProbeFailed,
    StaleFileFound,
    publish,
    topology,
)
from librarrarian_contracts.views import (
    ActionResult,
    ClearedJobs,
    ClearPending,
    JobAction,
    ReleasedJobs,
    ReleaseJobs,
)
from librarrarian_runtime.queries import ask
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext

from .scheduler_client import StateEvents, granted, probed


def started(job_id: int, attempt: int, path: str) -> JobStarted:
    return JobStarted(job_id=job_id, attempt=attempt, delivery=1, node="box", path=path)


def failed(job_id: int, attempt: int, path: str) -> JobFailed:
    return JobFailed(
        job_id=job_id,
        attempt=attempt,
        node="box",
        path=path,
        reason="ffmpeg exit 1",
        detail="log",
        delivery=1,
    )


async def changes(events: StateEvents, job_id: int, count: int) -> list[str]:
    return await eventually(
        lambda: len(events.changes(job_id)) >= count and events.changes(job_id),
        message=f"{count} changes of job {job_id}",
    )


@pytest.mark.usefixtures("scheduler")
async def test_a_transcode_publishes_each_change_of_its_record(
    bus: tuple[Client, JetStreamContext], state_events: StateEvents, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="librarrarian_scheduler.jobs")
    nc, js = bus
    await publish(js, probed("/m/a.mp4"))
    assert await changes(state_events, 1, 1) == ["queued"]
    queued = state_events.last(1)
    assert (queued.job.status, queued.job.attempts, queued.job.path, queued.event_id) == (
        "pending",
        1,
        "/m/a.mp4",
        "1:v1",
    )

    await publish(js, started(1, 1, "/m/a.mp4"))
    await changes(state_events, 1, 2)
    await publish(js, failed(1, 1, "/m/a.mp4"))
    assert await changes(state_events, 1, 3) == ["queued", "running", "retry_scheduled"]
    retry = state_events.last(1).job
    assert (retry.status, retry.attempts, retry.reason, retry.node) == ("pending", 2, "ffmpeg exit 1", None)
    assert retry.retry_at is not None and retry.retry_at <= datetime.now(UTC)  # the fixture retries at once

    await publish(js, started(1, 2, "/m/a.mp4"))
    await changes(state_events, 1, 4)
    assert state_events.last(1).job.retry_at is None
    await publish(js, failed(1, 2, "/m/a.mp4"))  # the last attempt (the fixture allows two)
    assert (await changes(state_events, 1, 5))[-1] == "failed"
    final = state_events.last(1).job
    assert (final.status, final.error_log, final.finished_at is not None) == ("failed", "log", True)

    await ask(nc, topology.SCHEDULER_RETRY, JobAction(job_id=1), ActionResult)
    assert (await changes(state_events, 1, 6))[-1] == "queued"
    await publish(js, started(1, 3, "/m/a.mp4"))
    await changes(state_events, 1, 7)
    await granted(nc, 1, 3)
    completed = JobCompleted(
        job_id=1,
        attempt=3,
        node="box",
        delivery=1,
        path="/m/a.mp4",
        output_path="/m/a.mkv",
        encoder="libx265",
        codec_before="h264",
        codec_after="hevc",
        size_before=1000,
        size_after=400,
        duration=5.3,
        elapsed_seconds=2.0,
    )
    await publish(js, completed)
    assert await changes(state_events, 1, 8) == [
        "queued",
        "running",
        "retry_scheduled",
        "running",
        "failed",
        "queued",
        "running",
        "done",
    ]
    done = state_events.last(1).job
    assert (done.status, done.output_path, done.size_after) == ("done", "/m/a.mkv", 400)
    versions = [e.job.version for e in state_events.events if e.job.id == 1]
    assert versions == list(range(1, 9))
    # One log line per change, with the job and the node.
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "librarrarian_scheduler.jobs"]
    assert lines == [
        ("INFO", "job 1 queued (attempt 1): /m/a.mp4"),
        ("INFO", "job 1 running on box (attempt 1): /m/a.mp4"),
        ("WARNING", "job 1 retry scheduled on box (attempt 1): /m/a.mp4: ffmpeg exit 1"),
        ("INFO", "job 1 running on box (attempt 2): /m/a.mp4"),
        ("ERROR", "job 1 failed on box (attempt 2): /m/a.mp4: ffmpeg exit 1"),
        ("INFO", "job 1 queued (attempt 3): /m/a.mp4"),
        ("INFO", "job 1 running on box (attempt 3): /m/a.mp4"),
        ("INFO", "job 1 done on box (attempt 3): /m/a.mp4 -> /m/a.mkv"),
    ]
    assert [e.event_id for e in state_events.events if e.job.id == 1] == [f"1:v{v}" for v in versions]


@pytest.mark.usefixtures("scheduler")
async def test_skipped_failed_and_removed_jobs_are_published(
    bus: tuple[Client, JetStreamContext], state_events: StateEvents
) -> None:
    nc, js = bus
    await publish(js, probed("/m/b.mkv", codec="hevc"))
    unreadable = FileIdentity(size=10, mtime_ns=1, inode=9)
    await publish(js, MediaProbeFailed(path="/m/c.mp4", identity=unreadable, error="moov atom not found"))
    await publish(js, probed("/m/d.mp4"))
    await eventually(lambda: len(state_events.events) >= 3, message="three jobs")
    by_path = {e.job.path: e for e in state_events.events}
    assert (by_path["/m/b.mkv"].change, by_path["/m/b.mkv"].job.reason) == ("skipped", "already HEVC")
    assert (by_path["/m/c.mp4"].change, by_path["/m/c.mp4"].job.status) == ("failed", "failed")

    pending = by_path["/m/d.mp4"].job.id
    cleared = await ask(nc, topology.SCHEDULER_CLEAR, ClearPending(), ClearedJobs)
    assert cleared.deleted == 1
    assert (await changes(state_events, pending, 2))[-1] == "removed"
    removed = state_events.last(pending)
    assert (removed.job.status, removed.job.path) == ("pending", "/m/d.mp4")  # the record as it was


@pytest.mark.usefixtures("scheduler")
async def test_an_approval_is_published_from_waiting_to_done(
    bus: tuple[Client, JetStreamContext], state_events: StateEvents
) -> None:
    nc, js = bus
    identity = FileIdentity(size=10, mtime_ns=1, inode=2)
    await publish(js, StaleFileFound(path="/m/.tmp_a", identity=identity, why="old"))
    assert await changes(state_events, 1, 1) == ["awaiting_approval"]
    assert state_events.last(1).job.kind == "cleanup"
    await ask(nc, topology.SCHEDULER_RELEASE, ReleaseJobs(kind="cleanup"), ReleasedJobs)
    assert (await changes(state_events, 1, 2))[-1] == "released"
    assert (state_events.last(1).job.status, state_events.last(1).job.attempts) == ("pending", 1)
    await granted(nc, 1, 1, node="tidy")
    finished = CleanupFinished(
        job_id=1, attempt=1, node="tidy", path="/m/.tmp_a", removed=True, size=10, delivery=1
    )
    await publish(js, finished)
    assert await changes(state_events, 1, 3) == ["awaiting_approval", "released", "done"]
