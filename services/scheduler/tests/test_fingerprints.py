"""Content identity in the scheduler: a renamed or moved file is recognised by its fingerprint, and a file
we produced is never queued again, whatever it is called now (pure policy, then the real scheduler with
the events the scanner and an encoder would publish)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from librarrarian_contracts import (
    FileIdentity,
    JobCompleted,
    JobStarted,
    MediaProbe,
    MediaProbed,
    StreamInfo,
    Transcode,
    publish,
    topology,
)
from librarrarian_contracts.codec import work_decoder
from librarrarian_contracts.settings import TranscodeSettings
from librarrarian_contracts.topology import HwClass
from librarrarian_contracts.views import JobsPage, JobsQuery
from librarrarian_runtime.errors import ServiceError
from librarrarian_runtime.queries import ask
from librarrarian_scheduler import policy, store
from librarrarian_scheduler.settings import Settings
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext

from .scheduler_client import granted, running_scheduler

H264 = MediaProbe(
    container="avi",
    duration=5.0,
    video_codec="h264",
    streams=(StreamInfo(index=0, kind="video", codec="h264"),),
)
HEVC = MediaProbe(
    container="matroska",
    duration=5.0,
    video_codec="hevc",
    streams=(StreamInfo(index=0, kind="video", codec="hevc"),),
)
SOURCE, OUTPUT = "v1:1000:source", "v1:400:output"


def probed(path: str, probe: MediaProbe, size: int, fingerprint: str | None, inode: int = 7) -> MediaProbed:
    return MediaProbed(
        path=path,
        identity=FileIdentity(size=size, mtime_ns=1, inode=inode),
        probe=probe,
        fingerprint=fingerprint,
    )


# --- policy ---------------------------------------------------------------------------------------


def test_same_content_under_another_name_is_never_queued() -> None:
    renamed_output = policy.SameContent(job_id=3, status="done", path="/m/a.avi", as_output=True)
    decision = policy.decide(probed("/m/b.mkv", H264, 400, OUTPUT), None, None, same_content=renamed_output)
    assert decision == policy.Ignore("our own output (job 3), renamed or moved")

    in_flight = policy.SameContent(job_id=4, status="running", path="/m/a.avi", as_output=False)
    decision = policy.decide(probed("/m/b.avi", H264, 1000, SOURCE), None, None, same_content=in_flight)
    assert decision == policy.Skip("same content as /m/a.avi, in flight as job 4")

    done = policy.SameContent(job_id=5, status="done", path="/m/a.avi", as_output=False)
    decision = policy.decide(probed("/m/b.avi", H264, 1000, SOURCE), None, None, same_content=done)
    assert decision == policy.Skip("same content as /m/a.avi, already transcoded by job 5")


def test_a_file_of_its_own_is_decided_on_its_codec() -> None:
    assert policy.decide(probed("/m/b.avi", H264, 1000, SOURCE), None, None) == policy.Transcode()


# --- the real scheduler -----------------------------------------------------------------------------


@pytest.fixture
async def scheduler(
    bus: tuple[Client, JetStreamContext], nats_url: str, database_url: str
) -> AsyncIterator[None]:
    # HEVC is re-encoded too: without fingerprints, a renamed output would be queued all over again.
    transcode = TranscodeSettings(reencode_hevc=True, target_codec="av1")
    async with running_scheduler(bus[0], Settings(nats_url=nats_url, database_url=database_url), transcode):
        yield


async def _jobs(nc: Client) -> dict[str, tuple[int, str, str | None]] | None:
    try:
        page = await ask(nc, topology.SCHEDULER_JOBS_QUERY, JobsQuery(limit=100), JobsPage, timeout=1)
    except ServiceError:
        return None
    return {j.path: (j.id, j.status, j.reason) for j in page.items} or {"": (0, "", None)}


async def _work(js: JetStreamContext, timeout: float) -> list[Transcode]:
    sub = await js.pull_subscribe_bind(
        durable=topology.encoder_durable(HwClass.CPU), stream=topology.WORK.name
    )
    try:
        messages = await sub.fetch(10, timeout=timeout)
    except (TimeoutError, NatsTimeoutError):
        messages = []
    finally:
        await sub.unsubscribe()
    for msg in messages:
        await msg.ack()
    return [work_decoder.decode(msg.data) for msg in messages]


async def _settled(nc: Client, path: str) -> tuple[int, str, str | None] | None:
    jobs = await _jobs(nc)
    return (jobs or {}).get(path)


async def test_a_renamed_output_and_a_copy_of_a_source_are_not_queued_again(
    bus: tuple[Client, JetStreamContext], scheduler: None
) -> None:
    nc, js = bus
    await publish(js, probed("/m/Film.avi", H264, 1000, SOURCE))
    (work,) = await _work(js, timeout=10)
    assert work.path == "/m/Film.avi"

    # While it runs, a copy of the same file elsewhere is not queued beside it.
    await publish(js, JobStarted(job_id=work.job_id, attempt=1, delivery=1, node="box", path=work.path))
    await publish(js, probed("/m/Copy/Film.avi", H264, 1000, SOURCE, inode=8))
    copy = await eventually(lambda: _settled(nc, "/m/Copy/Film.avi"))
    assert copy[1:] == ("skipped", f"same content as /m/Film.avi, in flight as job {work.job_id}")

    # The encoder's output appears (the scanner may see it before the completion arrives) …
    await publish(js, probed("/m/Film.mkv", HEVC, 400, OUTPUT, inode=9))
    await granted(nc, work.job_id, 1)
    await publish(
        js,
        JobCompleted(
            job_id=work.job_id,
            attempt=1,
            node="box",
            delivery=1,
            path=work.path,
            output_path="/m/Film.mkv",
            encoder="libsvtav1",
            codec_before="h264",
            codec_after="av1",
            size_before=1000,
            size_after=400,
            duration=5.0,
            elapsed_seconds=3.0,
        ),
    )
    done = await eventually(lambda: _settled(nc, "/m/Film.avi"))
    await eventually(lambda: _status_is(nc, "/m/Film.avi", "done"))
    # … then Radarr renames it, and later moves it to another folder: neither becomes a job.
    await publish(js, probed("/m/Film (2008) Bluray-1080p.mkv", HEVC, 400, OUTPUT, inode=9))
    await publish(js, probed("/m/Films/Film (2008)/Film (2008).mkv", HEVC, 400, OUTPUT, inode=9))
    # A marker that must be queued, published last: once it is, the renames were decided.
    await publish(js, probed("/m/Other.avi", H264, 2000, "v1:2000:other", inode=10))
    work = await _work(js, timeout=10)
    assert [w.path for w in work] == ["/m/Other.avi"]
    jobs = await eventually(lambda: _settled(nc, "/m/Other.avi"))
    assert jobs is not None
    after = await _jobs(nc) or {}
    assert "/m/Film (2008) Bluray-1080p.mkv" not in after
    assert "/m/Films/Film (2008)/Film (2008).mkv" not in after
    assert "/m/Film.mkv" not in after  # the output itself, seen in flight: ignored too
    assert after["/m/Film.avi"][0] == done[0]

    # The original's content showing up again (restored from a backup) is skipped, with the reason.
    await publish(js, probed("/m/Restored/Film.avi", H264, 1000, SOURCE, inode=11))
    restored = await eventually(lambda: _settled(nc, "/m/Restored/Film.avi"))
    assert restored[1:] == ("skipped", f"same content as /m/Film.avi, already transcoded by job {done[0]}")
    assert await _work(js, timeout=0.5) == []


async def _status_is(nc: Client, path: str, status: str) -> bool:
    found = await _settled(nc, path)
    return found is not None and found[1] == status


@pytest.mark.parametrize("completion", ["before", "after"])
async def test_an_output_probed_just_as_its_job_completes_is_not_queued(
    bus: tuple[Client, JetStreamContext],
    scheduler: None,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    completion: str,
) -> None:
    """The worst interleaving: the job's completion commits just before or just after the scheduler reads
    what is known of the output's name (in flight, done by a job: one statement, one snapshot). Either way it
    must not take the output for a new file."""
    nc, js = bus
    await publish(js, probed("/m/Film.avi", H264, 1000, SOURCE))
    (work,) = await _work(js, timeout=10)
    await publish(js, JobStarted(job_id=work.job_id, attempt=1, delivery=1, node="box", path=work.path))
    await eventually(lambda: _status_is(nc, "/m/Film.avi", "running"))

    async def complete() -> None:  # what the tracker commits when job.completed arrives
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(
                "UPDATE scheduler.jobs SET status = 'done', output_path = '/m/Film.mkv', size_after = 400"
                " WHERE id = $1",
                work.job_id,
            )
        finally:
            await conn.close()

    reads: list[store.Lookups] = []
    original = store.lookups

    async def read(conn: asyncpg.Connection, path: str) -> store.Lookups:
        if path != "/m/Film.mkv":
            return await original(conn, path)
        if completion == "before":
            await complete()
        found = await original(conn, path)
        if completion == "after":
            await complete()
        reads.append(found)
        return found

    monkeypatch.setattr(store, "lookups", read)
    await publish(js, probed("/m/Film.mkv", HEVC, 400, None, inode=9))  # no fingerprint: names decide
    await publish(js, probed("/m/Other.avi", H264, 2000, "v1:2000:other", inode=10))  # decided after
    work_after = await _work(js, timeout=10)
    assert [w.path for w in work_after] == ["/m/Other.avi"]
    assert len(reads) == 1 and "/m/Film.mkv" not in (await _jobs(nc) or {})
    # What the one read saw: the job in flight (its sibling), or the job that produced the file.
    (seen,) = reads
    if completion == "before":
        assert seen.produced is not None and not seen.sibling_in_flight
    else:
        assert seen.sibling_in_flight and seen.produced is None
