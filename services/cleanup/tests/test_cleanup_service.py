"""The cleanup service with the real scheduler on a real NATS and PostgreSQL: a stale file is found, waits for
approval, and is deleted only once released; and kill -9 around the deletion loses nothing."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from librarrarian_cleanup import service
from librarrarian_cleanup.settings import Settings
from librarrarian_contracts import FindStaleFiles, publish, topology
from librarrarian_contracts.views import JobsPage, JobsQuery, JobView, ReleasedJobs, ReleaseJobs
from librarrarian_runtime import failpoints
from librarrarian_runtime.errors import Conflict, ServiceError
from librarrarian_runtime.queries import ask
from librarrarian_scheduler import service as scheduler_service
from librarrarian_scheduler.settings import Settings as SchedulerSettings
from librarrarian_testing import eventually, handled
from librarrarian_testing.files import aged
from nats.aio.client import Client
from nats.js import JetStreamContext

DAY = 86_400.0


@pytest.fixture
async def scheduler(
    bus: tuple[Client, JetStreamContext], nats_url: str, database_url: str
) -> AsyncIterator[None]:
    stopping = asyncio.Event()
    task = asyncio.create_task(
        scheduler_service.run(SchedulerSettings(nats_url=nats_url, database_url=database_url), stopping)
    )

    async def answering() -> bool:
        try:
            await cleanup_jobs(bus[0])
        except ServiceError:
            return False
        return True

    await eventually(answering, message="the scheduler answering")
    yield
    stopping.set()
    await asyncio.wait_for(task, 30)


@pytest.fixture
def media(tmp_path: Path) -> Path:
    root = (tmp_path / "media").resolve()
    aged(root / "Movie" / "Movie.mkv", 30, b"the user's film")
    aged(root / "Movie" / ".tmp_librarrarian-Movie.mkv", 3)
    return root


async def cleanup_jobs(nc: Client, status: str | None = None) -> tuple[JobView, ...]:
    query = JobsQuery(kind="cleanup", statuses=(status,) if status else ())
    page = await ask(nc, topology.SCHEDULER_JOBS_QUERY, query, JobsPage)
    return page.items


async def found_and_awaiting(nc: Client, js: JetStreamContext) -> JobView:
    await publish(js, FindStaleFiles())
    (job,) = await eventually(
        lambda: cleanup_jobs(nc, "awaiting_approval"), message="a job awaiting approval"
    )
    return job


@asynccontextmanager
async def cleaning(nats_url: str, media: Path, node: str) -> AsyncIterator[None]:
    """A cleanup service for ``media`` while the block runs."""
    stopping = asyncio.Event()
    settings = Settings(nats_url=nats_url, media_paths=(media,), node=node, interval_hours=0)
    task = asyncio.create_task(service.run(settings, stopping))
    try:
        yield
    finally:
        stopping.set()
        await asyncio.wait_for(task, 30)


async def test_a_stale_file_is_deleted_only_after_approval(
    bus: tuple[Client, JetStreamContext], nats_url: str, scheduler: None, media: Path
) -> None:
    nc, js = bus
    stale = media / "Movie" / ".tmp_librarrarian-Movie.mkv"
    async with cleaning(nats_url, media, "tidy"):
        job = await found_and_awaiting(nc, js)
        assert (job.path, job.reason) == (str(stale), "temporary file untouched for 3 days")

        await publish(js, FindStaleFiles())  # found again while it waits: still one job
        await handled(js, topology.CLEANUP_CONTROL)
        await handled(js, topology.SCHEDULER_CLEANUP)
        assert [j.id for j in await cleanup_jobs(nc)] == [job.id]
        assert stale.exists()  # found is not approved

        released = await ask(nc, topology.SCHEDULER_RELEASE, ReleaseJobs(job_id=job.id), ReleasedJobs)
        assert released.released == 1
        (done,) = await eventually(lambda: cleanup_jobs(nc, "done"), message="the job done")
        assert (done.id, done.node) == (job.id, "tidy")
        assert not stale.exists()
        assert (media / "Movie" / "Movie.mkv").read_bytes() == b"the user's film"

        with pytest.raises(Conflict, match=f"job {job.id} is done, not awaiting approval"):
            await ask(nc, topology.SCHEDULER_RELEASE, ReleaseJobs(job_id=job.id), ReleasedJobs)


async def test_a_file_changed_after_approval_is_kept(
    bus: tuple[Client, JetStreamContext], nats_url: str, scheduler: None, media: Path
) -> None:
    nc, js = bus
    stale = media / "Movie" / ".tmp_librarrarian-Movie.mkv"
    async with cleaning(nats_url, media, "tidy"):
        job = await found_and_awaiting(nc, js)
        aged(stale, 3, b"rewritten by someone")
        await ask(nc, topology.SCHEDULER_RELEASE, ReleaseJobs(kind="cleanup"), ReleasedJobs)
        (kept,) = await eventually(lambda: cleanup_jobs(nc, "skipped"), message="the job skipped")
        assert (kept.id, kept.reason) == (job.id, "changed since it was found: kept")
        assert stale.read_bytes() == b"rewritten by someone"


@pytest.mark.parametrize("point", ["before-unlink", "after-unlink"])
async def test_a_kill_around_the_deletion_loses_nothing(
    point: str, bus: tuple[Client, JetStreamContext], nats_url: str, scheduler: None, media: Path
) -> None:
    nc, js = bus
    stale = media / "Movie" / ".tmp_librarrarian-Movie.mkv"
    video = media / "Movie" / "Movie.mkv"
    env = {
        **os.environ,
        "NATS_URL": nats_url,
        "MEDIA_PATHS": str(media),
        "NODE_NAME": "doomed",
        "CLEANUP_INTERVAL_HOURS": "0",
        failpoints.VARIABLE: point,
    }
    doomed = await asyncio.create_subprocess_exec(sys.executable, "-m", "librarrarian_cleanup", env=env)
    try:
        job = await found_and_awaiting(nc, js)
        await ask(nc, topology.SCHEDULER_RELEASE, ReleaseJobs(job_id=job.id), ReleasedJobs)
        assert await asyncio.wait_for(doomed.wait(), 60) == -9
    finally:
        if doomed.returncode is None:
            doomed.kill()
            await doomed.wait()

    # The moment after the kill: the user's video untouched; the stale file there until the unlink.
    assert video.read_bytes() == b"the user's film"
    assert stale.exists() == (point == "before-unlink")
    assert [j.status for j in await cleanup_jobs(nc)] == ["pending"]

    async with cleaning(nats_url, media, "survivor"):
        (done,) = await eventually(
            lambda: cleanup_jobs(nc, "done"),
            timeout=topology.CLEANUP_WORK.ack_wait_seconds + 30,
            message="the job done elsewhere",
        )
    assert done.node == "survivor" and done.reason == ("already gone" if point == "after-unlink" else None)
    assert not stale.exists() and video.read_bytes() == b"the user's film"
