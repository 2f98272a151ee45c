"""The queue's order as real encoders see it: the real scheduler and one encoder with one slot, on real clips.
Waiting transcodes are released into the WORK stream a window at a time in the chosen order, so the jobs
complete in that order; moves to the top and bottom by hand win over it; a job released before the others
were queued keeps its place."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from librarrarian_contracts import FileIdentity, MediaProbed, publish, topology
from librarrarian_contracts.settings import ORDER_KEY, QueueOrder
from librarrarian_contracts.views import ActionResult, JobsPage, JobsQuery, JobView, MoveJob
from librarrarian_encoder import service as encoder
from librarrarian_encoder.settings import Settings as EncoderSettings
from librarrarian_media import probe
from librarrarian_runtime.errors import ServiceError
from librarrarian_runtime.queries import ask
from librarrarian_scheduler import ordering
from librarrarian_scheduler import service as scheduler
from librarrarian_scheduler.settings import Settings as SchedulerSettings
from librarrarian_testing import eventually, transcode
from librarrarian_testing.clips import lavfi_clip
from nats.aio.client import Client
from nats.js import JetStreamContext

# x264 bit rates: the higher, the larger the file and the more an HEVC encode saves (its benefit).
RATES = {"low": "150k", "mid": "600k", "high": "2400k", "midhigh": "1200k"}


@contextlib.asynccontextmanager
async def running(task_of: object) -> AsyncIterator[None]:
    stopping = asyncio.Event()
    task = asyncio.create_task(task_of(stopping))  # type: ignore[operator]
    try:
        yield
    finally:
        stopping.set()
        await asyncio.wait_for(task, 30)


async def all_jobs(nc: Client) -> dict[str, JobView]:
    page = await ask(nc, topology.SCHEDULER_JOBS_QUERY, JobsQuery(limit=100), JobsPage)
    return {Path(j.path).stem: j for j in page.items}


def scanned(path: Path) -> MediaProbed:
    st = os.stat(path)
    identity = FileIdentity(size=st.st_size, mtime_ns=st.st_mtime_ns, inode=st.st_ino, links=st.st_nlink)
    return MediaProbed(path=str(path), identity=identity, probe=probe(path), library=str(path.parent))


@pytest.fixture
def clips(tmp_path: Path) -> dict[str, Path]:
    root = tmp_path / "media"
    root.mkdir()
    made = {"first": lavfi_clip(root / "first.mp4", seconds=1, audio=False, extra=("-b:v", "100k"))}
    for name, rate in RATES.items():
        extra = ("-b:v", rate, "-maxrate", rate, "-bufsize", rate, "-x264-params", "nal-hrd=cbr")
        made[name] = lavfi_clip(root / f"{name}.mp4", seconds=1, audio=False, extra=extra)
    return made


async def test_jobs_complete_in_the_queues_order_with_moves_by_hand(
    bus: tuple[Client, JetStreamContext], nats_url: str, database_url: str, clips: dict[str, Path]
) -> None:
    nc, js = bus
    kv = await js.key_value(topology.SETTINGS.name)
    await kv.put(ORDER_KEY, msgspec.json.encode(QueueOrder(order="benefit", window=1)))
    await transcode.put(js, transcode.fastest(max_output_percent=1000))
    root = clips["first"].parent
    events = {name: scanned(path) for name, path in clips.items()}
    benefits = {name: ordering.benefit(e.probe, e.identity.size) for name, e in events.items()}
    by_benefit = sorted(RATES, key=lambda name: -(benefits[name] or 0))
    assert by_benefit == ["high", "midhigh", "mid", "low"], benefits  # the clips are what the test needs
    settings = SchedulerSettings(nats_url=nats_url, database_url=database_url)
    async with running(lambda stopping: scheduler.run(settings, stopping)):
        # The first job is alone when queued: released at once into the stream's one place.
        await publish(js, events["first"])
        await eventually(lambda: _has(nc, {"first"}))
        await eventually(lambda: _in_work_stream(js, 1), message="the first job released")
        for name in ("low", "mid", "high", "midhigh"):  # found in this order: the age order
            await publish(js, events[name])
        jobs = await eventually(lambda: _has(nc, {"first", *RATES}))
        moved = {}
        for name, to in (("low", "top"), ("high", "bottom")):
            move = MoveJob(job_id=jobs[name].id, to=to)  # type: ignore[arg-type]
            moved[name] = await ask(nc, topology.SCHEDULER_MOVE, move, ActionResult)
        assert moved["low"].detail == "moved to the top"
        released = MoveJob(job_id=jobs["first"].id, to="bottom")
        answer = await ask(nc, topology.SCHEDULER_MOVE, released, ActionResult)
        assert "keeps its place" in answer.detail
        node = EncoderSettings(nats_url=nats_url, media_paths=(root.resolve(),), node="one-slot")
        async with running(lambda stopping: encoder.run(node, stopping)):
            done = await eventually(lambda: _done(nc, len(events)), timeout=240)
    order = [name for name, _ in sorted(done.items(), key=lambda item: item[1].finished_at or 0)]
    # Released first; then the top move; then by benefit; the bottom move last.
    assert order == ["first", "low", "midhigh", "mid", "high"]


async def _in_work_stream(js: JetStreamContext, count: int) -> bool:
    """``count`` messages waiting for the encoders, as the relay counts them (the durables' pending)."""
    pending = 0
    for spec in topology.WORK_CONSUMERS.values():
        pending += (await js.consumer_info(spec.stream, spec.durable)).num_pending or 0
    return pending == count


async def _has(nc: Client, names: set[str]) -> dict[str, JobView] | None:
    try:
        jobs = await all_jobs(nc)
    except ServiceError:  # the scheduler is starting
        return None
    return jobs if names <= set(jobs) else None


async def _done(nc: Client, count: int) -> dict[str, JobView] | None:
    jobs = await all_jobs(nc)
    failed = [j for j in jobs.values() if j.status in ("failed", "skipped")]
    assert not failed, [(j.path, j.reason) for j in failed]
    finished = {name: j for name, j in jobs.items() if j.status == "done"}
    return finished if len(finished) == count else None
