"""Jobs awaiting approval, against the real scheduler: a stale file found becomes one waiting job, nothing
is queued until a user releases it (one job, or every job of a type), and waiting jobs can be cleared."""

from __future__ import annotations

import time
from collections.abc import Iterable

import pytest
from librarrarian_contracts import (
    FileIdentity,
    JobFailed,
    RemoveStaleFile,
    StaleFileFound,
    publish,
    topology,
)
from librarrarian_contracts.codec import cleanup_work_decoder
from librarrarian_contracts.views import (
    ActionResult,
    ClearedJobs,
    ClearPending,
    JobAction,
    JobsPage,
    JobsQuery,
    ReleasedJobs,
    ReleaseJobs,
)
from librarrarian_runtime.errors import BadRequest, NotFound
from librarrarian_runtime.queries import ask
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext


def found(path: str, size: int = 10) -> StaleFileFound:
    return StaleFileFound(path=path, identity=FileIdentity(size=size, mtime_ns=1, inode=2), why="old")


async def waiting(nc: Client, statuses: Iterable[str] = ("awaiting_approval",)) -> list[str]:
    page = await ask(
        nc, topology.SCHEDULER_JOBS_QUERY, JobsQuery(kind="cleanup", statuses=tuple(statuses)), JobsPage
    )
    return sorted(j.path for j in page.items)


async def pull_cleanup_work(js: JetStreamContext, count: int, timeout: float) -> list[RemoveStaleFile]:
    """The cleanup work messages published within ``timeout`` (stopping at ``count``)."""
    sub = await js.pull_subscribe_bind(durable=topology.CLEANUP_WORK.durable, stream=topology.WORK.name)
    got: list[RemoveStaleFile] = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < count and (left := deadline - time.monotonic()) > 0:
            try:
                messages = await sub.fetch(count - len(got), timeout=left)
            except (NatsTimeoutError, TimeoutError):  # nats-py raises either when nothing came
                break
            for msg in messages:
                got.append(cleanup_work_decoder.decode(msg.data))
                await msg.ack()
    finally:
        await sub.unsubscribe()
    return got


@pytest.mark.usefixtures("scheduler")
async def test_found_files_wait_for_release(bus: tuple[Client, JetStreamContext]) -> None:
    nc, js = bus
    for path in ("/m/.tmp_a", "/m/.tmp_b", "/m/a.lock", "/m/.tmp_a"):  # the first one found twice
        await publish(js, found(path))
    await eventually(
        lambda: _equal(waiting(nc), ["/m/.tmp_a", "/m/.tmp_b", "/m/a.lock"]), message="3 waiting"
    )
    assert await pull_cleanup_work(js, 5, timeout=1.0) == []  # nothing queued before approval

    page = await ask(nc, topology.SCHEDULER_JOBS_QUERY, JobsQuery(kind="cleanup"), JobsPage)
    first = next(j for j in page.items if j.path == "/m/.tmp_a")
    assert page.counts["awaiting_approval"] == 3
    one = await ask(nc, topology.SCHEDULER_RELEASE, ReleaseJobs(job_id=first.id), ReleasedJobs)
    assert one.released == 1
    (work,) = await pull_cleanup_work(js, 1, timeout=10.0)
    assert (work.job_id, work.attempt, work.path, work.identity.size) == (first.id, 1, "/m/.tmp_a", 10)
    assert await waiting(nc) == ["/m/.tmp_b", "/m/a.lock"]

    everything = await ask(nc, topology.SCHEDULER_RELEASE, ReleaseJobs(kind="cleanup"), ReleasedJobs)
    assert everything.released == 2
    assert sorted(w.path for w in await pull_cleanup_work(js, 2, timeout=10.0)) == ["/m/.tmp_b", "/m/a.lock"]
    assert await waiting(nc) == [] and len(await waiting(nc, ["pending"])) == 3


@pytest.mark.usefixtures("scheduler")
async def test_bad_releases_are_refused(bus: tuple[Client, JetStreamContext]) -> None:
    nc, _ = bus
    with pytest.raises(BadRequest, match="Invalid enum value 'cleanups'"):
        await ask(nc, topology.SCHEDULER_RELEASE, ReleaseJobs(kind="cleanups"), ReleasedJobs)  # type: ignore[arg-type]
    with pytest.raises(NotFound, match="there is no job 999"):
        await ask(nc, topology.SCHEDULER_RELEASE, ReleaseJobs(job_id=999), ReleasedJobs)
    nothing = await ask(nc, topology.SCHEDULER_RELEASE, ReleaseJobs(kind="transcode"), ReleasedJobs)
    assert nothing.released == 0


@pytest.mark.usefixtures("scheduler")
async def test_waiting_jobs_can_be_cleared(bus: tuple[Client, JetStreamContext]) -> None:
    nc, js = bus
    for path in ("/m/.tmp_a", "/m/.tmp_b"):
        await publish(js, found(path))
    await eventually(lambda: _equal(waiting(nc), ["/m/.tmp_a", "/m/.tmp_b"]), message="2 waiting")
    query = ClearPending(kind="cleanup", status="awaiting_approval")
    cleared = await ask(nc, topology.SCHEDULER_CLEAR, query, ClearedJobs)
    assert cleared.deleted == 2 and await waiting(nc) == []
    with pytest.raises(BadRequest, match="Invalid enum value 'done'"):
        await ask(nc, topology.SCHEDULER_CLEAR, ClearPending(status="done"), ClearedJobs)  # type: ignore[arg-type]
    await publish(js, found("/m/.tmp_a"))  # found again after clearing: waits again
    await eventually(lambda: _equal(waiting(nc), ["/m/.tmp_a"]), message="waiting again")


async def _equal(paths: object, expected: list[str]) -> bool:
    return await paths == expected  # type: ignore[misc]


@pytest.mark.usefixtures("scheduler")
async def test_a_failed_cleanup_is_retried_as_a_cleanup(bus: tuple[Client, JetStreamContext]) -> None:
    nc, js = bus
    await publish(js, found("/m/.tmp_a"))
    await eventually(lambda: _equal(waiting(nc), ["/m/.tmp_a"]), message="waiting")
    await ask(nc, topology.SCHEDULER_RELEASE, ReleaseJobs(kind="cleanup"), ReleasedJobs)
    (first,) = await pull_cleanup_work(js, 1, timeout=10.0)
    refused = "cannot delete it: [Errno 13] Permission denied"
    failed = JobFailed(
        job_id=first.job_id, attempt=1, node="tidy", path=first.path, reason=refused, retryable=False
    )
    await publish(js, failed)
    await eventually(lambda: _equal(waiting(nc, ["failed"]), ["/m/.tmp_a"]), message="failed")

    retried = await ask(nc, topology.SCHEDULER_RETRY, JobAction(job_id=first.job_id), ActionResult)
    assert retried.detail == "queued again"
    (second,) = await pull_cleanup_work(js, 1, timeout=10.0)
    assert (second.job_id, second.attempt, second.identity) == (first.job_id, 2, first.identity)
