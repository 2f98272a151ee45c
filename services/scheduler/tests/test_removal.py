"""Deleting jobs through the scheduler (real NATS and PostgreSQL): a deleted pending job's work message
leaves the WORK stream and its commit is refused, a running or done job is not deleted, and clearing the
queue deletes every pending job."""

from __future__ import annotations

import pytest
from librarrarian_contracts import JobCompleted, JobStarted, publish, topology
from librarrarian_contracts.views import (
    ActionResult,
    ClearedJobs,
    ClearPending,
    CommitDecision,
    CommitRequest,
    JobAction,
)
from librarrarian_runtime.errors import Conflict, NotFound
from librarrarian_runtime.queries import ask
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext

from .scheduler_client import granted, jobs, jobs_when, probed, work_messages


async def test_a_deleted_pending_job_is_never_encoded(
    bus: tuple[Client, JetStreamContext], scheduler: None
) -> None:
    nc, js = bus
    await publish(js, probed("/m/a.mp4"))
    job_id = int((await eventually(lambda: jobs_when(nc, 1)))["/m/a.mp4"]["id"])  # type: ignore[call-overload]
    await eventually(lambda: _count(js, 1), message="the work message published")

    result = await ask(nc, topology.SCHEDULER_DELETE, JobAction(job_id=job_id), ActionResult)
    assert result.detail == "deleted (pending)"
    assert await jobs(nc) == {}
    await eventually(lambda: _count(js, 0), message="the work message deleted from the stream")
    # An encoder that took the message before it went is refused the commit and keeps the original.
    decision = await ask(
        nc,
        topology.SCHEDULER_COMMIT,
        CommitRequest(job_id=job_id, attempt=1, delivery=1, node="box"),
        CommitDecision,
    )
    assert not decision.granted and decision.reason == "no such job"
    with pytest.raises(NotFound, match=f"there is no job {job_id}"):
        await ask(nc, topology.SCHEDULER_DELETE, JobAction(job_id=job_id), ActionResult)


async def test_clearing_the_queue_deletes_pending_jobs_but_not_running_ones(
    bus: tuple[Client, JetStreamContext], scheduler: None
) -> None:
    nc, js = bus
    for name in ("a", "b", "c"):
        await publish(js, probed(f"/m/{name}.mp4"))
    state = await eventually(lambda: jobs_when(nc, 3))
    running = int(state["/m/c.mp4"]["id"])  # type: ignore[call-overload]
    await publish(js, JobStarted(job_id=running, attempt=1, delivery=1, node="box", path="/m/c.mp4"))

    async def started() -> bool:
        return (await jobs(nc))["/m/c.mp4"]["status"] == "running"

    await eventually(started)
    await eventually(lambda: _count(js, 3))
    with pytest.raises(Conflict, match="is running; stop its node first"):
        await ask(nc, topology.SCHEDULER_DELETE, JobAction(job_id=running), ActionResult)

    cleared = await ask(nc, topology.SCHEDULER_CLEAR, ClearPending(kind="transcode"), ClearedJobs)
    assert cleared.deleted == 2
    assert list(await jobs(nc)) == ["/m/c.mp4"]
    await eventually(lambda: _count(js, 1), message="only the running job's work message left")
    assert (await ask(nc, topology.SCHEDULER_CLEAR, ClearPending(), ClearedJobs)).deleted == 0

    await granted(nc, running, 1)
    await publish(
        js,
        JobCompleted(
            job_id=running,
            attempt=1,
            node="box",
            delivery=1,
            path="/m/c.mp4",
            output_path="/m/c.mkv",
            encoder="libx265",
            codec_before="h264",
            codec_after="hevc",
            size_before=1000,
            size_after=400,
            duration=5.3,
            elapsed_seconds=2.0,
        ),
    )

    async def done() -> bool:
        return (await jobs(nc))["/m/c.mp4"]["status"] == "done"

    await eventually(done)
    with pytest.raises(Conflict, match="is done; its record stays"):
        await ask(nc, topology.SCHEDULER_DELETE, JobAction(job_id=running), ActionResult)


async def _count(js: JetStreamContext, wanted: int) -> bool:
    return await work_messages(js) == wanted
