"""The scheduler against real NATS and PostgreSQL: jobs, outbox, retries, fencing, queries."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from librarrarian_contracts import (
    FileIdentity,
    JobCompleted,
    JobFailed,
    JobStarted,
    MediaProbed,
    MediaProbeFailed,
    encode,
    publish,
    topology,
)
from librarrarian_contracts.views import CommitDecision, CommitRequest, JobsPage, JobsQuery
from librarrarian_runtime.errors import ServiceError
from librarrarian_runtime.migrations import connect_and_migrate
from librarrarian_runtime.queries import ask
from librarrarian_scheduler import service
from librarrarian_scheduler.relay import Relay
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext

from .scheduler_client import PROBE, granted, jobs, jobs_when, probed, pull_work, status_is

MIGRATIONS = Path(service.__file__).with_name("migrations")


async def test_files_become_jobs_and_work_messages(
    bus: tuple[Client, JetStreamContext], scheduler: None
) -> None:
    nc, js = bus
    await publish(js, probed("/m/a.mp4"))
    await publish(js, probed("/m/b.mkv", codec="hevc"))
    await publish(
        js,
        MediaProbeFailed(
            path="/m/c.mp4",
            identity=FileIdentity(size=4096, mtime_ns=1, inode=8),
            error="not a readable video: moov atom not found",
        ),
    )
    work = await pull_work(js, 1)
    assert work[0].path == "/m/a.mp4" and work[0].attempt == 1 and work[0].probe == PROBE
    state = await eventually(lambda: jobs_when(nc, 3))
    assert state["/m/a.mp4"]["status"] == "pending"
    assert state["/m/b.mkv"] == {**state["/m/b.mkv"], "status": "skipped", "reason": "already HEVC"}
    assert state["/m/c.mp4"]["status"] == "failed"
    assert "moov atom" in str(state["/m/c.mp4"]["reason"])


async def test_redelivered_and_unchanged_files_do_not_duplicate(
    bus: tuple[Client, JetStreamContext], scheduler: None
) -> None:
    nc, js = bus
    event = probed("/m/a.mp4")
    await publish(js, event)
    await js.publish(topology.MEDIA_PROBED, _raw(event))  # the same event id again, past the dedupe header
    await publish(js, probed("/m/a.mp4"))  # a rescan of the unchanged file: a new event id
    await publish(js, probed("/m/z.mp4"))  # a marker: once it is in, everything before it was handled
    await eventually(lambda: jobs_when(nc, 2))
    assert len(await jobs(nc)) == 2
    assert len(await pull_work(js, 2)) == 2


def _raw(event: MediaProbed) -> bytes:

    return encode(event)


async def test_a_failed_attempt_is_retried_then_failed_with_its_detail(
    bus: tuple[Client, JetStreamContext], scheduler: None
) -> None:
    nc, js = bus
    await publish(js, probed("/m/a.mp4"))
    (first,) = await pull_work(js, 1)
    await publish(js, JobStarted(job_id=first.job_id, attempt=1, delivery=1, node="n1", path=first.path))
    # n1 held the commit of attempt 1 when its replace failed.
    await granted(nc, first.job_id, 1, node="n1")
    failed = JobFailed(
        job_id=first.job_id, attempt=1, node="n1", path=first.path, reason="rename failed", delivery=1
    )
    await publish(js, failed)
    (second,) = await pull_work(js, 1)
    assert (second.job_id, second.attempt) == (first.job_id, 2)
    await publish(
        js,
        JobFailed(
            job_id=first.job_id,
            attempt=2,
            node="n1",
            path=first.path,
            reason="ffmpeg exited 1",
            detail="Conversion failed!",
        ),
    )

    async def failed() -> bool:
        return (await jobs(nc))["/m/a.mp4"]["status"] == "failed"

    await eventually(failed)
    page = await ask(nc, topology.SCHEDULER_JOBS_QUERY, JobsQuery(statuses=("failed",)), JobsPage)
    assert page.items[0].error_log == "Conversion failed!" and page.items[0].attempts == 2
    # A late completion of the stale first attempt, from its commit's holder: the file did change.
    await publish(
        js,
        JobCompleted(
            job_id=first.job_id,
            attempt=1,
            node="n1",
            delivery=1,
            path=first.path,
            output_path=first.path,
            encoder="libx265",
            codec_before="h264",
            codec_after="hevc",
            size_before=10,
            size_after=5,
            duration=1.0,
            elapsed_seconds=1.0,
        ),
    )
    await eventually(lambda: status_is(nc, "/m/a.mp4", "done"))  # a completion is a fact: the file changed


async def test_commit_fencing_grants_one_holder(
    bus: tuple[Client, JetStreamContext], scheduler: None
) -> None:
    nc, js = bus
    await publish(js, probed("/m/a.mp4"))
    (work,) = await pull_work(js, 1)

    async def commit(delivery: int, node: str, attempt: int = 1) -> CommitDecision:
        request = CommitRequest(job_id=work.job_id, attempt=attempt, delivery=delivery, node=node)
        return await ask(nc, topology.SCHEDULER_COMMIT, request, CommitDecision)

    first, rival = await asyncio.gather(commit(1, "a"), commit(1, "b"))
    assert [first.granted, rival.granted].count(True) == 1  # two overlapping holders: exactly one wins
    winner = "a" if first.granted else "b"
    assert (await commit(1, winner)).granted  # the holder asking again is fine
    later = await commit(2, "c")  # JetStream redelivered: the first holder is presumed dead
    assert later.granted
    assert not (await commit(1, winner)).granted  # and it may not come back
    stale = await commit(1, "d", attempt=0)
    assert not stale.granted and "stale" in stale.reason


async def test_a_later_delivery_is_told_the_outputs_earlier_holders_were_granted_for(
    bus: tuple[Client, JetStreamContext], scheduler: None
) -> None:
    nc, js = bus
    await publish(js, probed("/m/a.mp4"))
    (work,) = await pull_work(js, 1)
    output = FileIdentity(size=5, mtime_ns=7, inode=99)

    async def commit(delivery: int, node: str, sent: FileIdentity | None) -> CommitDecision:
        request = CommitRequest(job_id=work.job_id, attempt=1, delivery=delivery, node=node, output=sent)
        return await ask(nc, topology.SCHEDULER_COMMIT, request, CommitDecision)

    assert (await commit(1, "a", output)).outputs == (output,)
    assert (await commit(1, "a", None)).outputs == (output,)  # asking again does not forget it
    # The holder died after its rename: the next delivery asks with nothing to put in place, and learns the
    # file it may find under the original's name.
    later = await commit(2, "b", None)
    assert later.granted and later.outputs == (output,)
    assert (await commit(1, "a", output)).outputs == ()  # a denial names nothing


async def test_bad_queries_are_refused_clearly(bus: tuple[Client, JetStreamContext], scheduler: None) -> None:
    nc, _ = bus
    with pytest.raises(ServiceError, match="limit must be between 1 and 500"):
        await ask(nc, topology.SCHEDULER_JOBS_QUERY, JobsQuery(limit=0), JobsPage)


async def test_a_relay_that_dies_before_marking_sent_publishes_once(
    bus: tuple[Client, JetStreamContext], database_url: str
) -> None:
    _, js = bus
    pool = await connect_and_migrate(database_url, "scheduler", "librarrarian_scheduler.migrations")
    try:
        from librarrarian_scheduler import store

        async with pool.acquire() as conn, conn.transaction():
            event = probed("/m/a.mp4")
            job_id = await store.insert_job(
                conn,
                path=event.path,
                status="pending",
                identity=event.identity,
                probe=event.probe,
                hw_class="cpu",
            )
            await store.enqueue(conn, job_id)
        relay = Relay(pool, js, database_url)
        row = await pool.fetchrow("SELECT subject, msg_id, payload FROM outbox")
        assert row is not None
        # The relay published, then died before marking the row sent …
        await js.publish(row["subject"], row["payload"], headers={"Nats-Msg-Id": row["msg_id"]})
        # … so its successor publishes the row again: JetStream keeps one copy.
        assert await relay.flush() == 1
        info = await js.stream_info(topology.WORK.name)
        assert info.state.messages == 1
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0
    finally:
        await pool.close()


async def test_migrations_run_twice_and_concurrently(database_url: str) -> None:
    pools = await asyncio.gather(
        *(
            connect_and_migrate(database_url, "scheduler", "librarrarian_scheduler.migrations")
            for _ in range(3)
        )
    )
    again = await connect_and_migrate(database_url, "scheduler", "librarrarian_scheduler.migrations")
    try:
        versions = await again.fetch("SELECT version FROM scheduler.schema_migrations")
        shipped = sorted(int(p.name[:4]) for p in MIGRATIONS.glob("*.sql"))
        assert [r["version"] for r in versions] == shipped and shipped[0] == 1
    finally:
        for pool in (*pools, again):
            await pool.close()


async def test_max_deliveries_advisory_fails_the_job(
    bus: tuple[Client, JetStreamContext], scheduler: None, database_url: str
) -> None:
    nc, js = bus
    await publish(js, probed("/m/a.mp4"))
    (work,) = await pull_work(js, 1)
    conn = await asyncpg.connect(database_url)
    try:
        # The relay marks the row sent (with its stream sequence) just after an encoder may have taken it.
        seq = await eventually(
            lambda: conn.fetchval("SELECT stream_seq FROM scheduler.outbox WHERE job_id = $1", work.job_id)
        )
    finally:
        await conn.close()
    advisory = (
        b'{"type":"io.nats.jetstream.advisory.v1.max_deliver","stream":"WORK","consumer":"encoder-cpu",'
        b'"stream_seq":%d,"deliveries":5}' % seq
    )
    await nc.publish(
        topology.max_deliveries_advisory(topology.WORK_CONSUMERS[topology.HwClass.CPU]), advisory
    )

    async def failed() -> str | None:
        job = (await jobs(nc))["/m/a.mp4"]
        return str(job["reason"]) if job["status"] == "failed" else None

    assert "5 times" in await eventually(failed)


async def test_an_output_seen_before_its_job_completed_gets_no_job_of_its_own(
    bus: tuple[Client, JetStreamContext], scheduler: None
) -> None:
    nc, js = bus
    await publish(js, probed("/m/Show/E02.avi"))
    await pull_work(js, 1)
    await publish(js, probed("/m/Show/E02.mkv", codec="hevc"))  # the watch saw the new file first
    await publish(js, probed("/m/Show/E03.mkv", codec="hevc"))  # a marker: it is decided after the one above
    await eventually(lambda: jobs_when(nc, 2))
    assert sorted(await jobs(nc)) == ["/m/Show/E02.avi", "/m/Show/E03.mkv"]
