"""Talking to a real scheduler from a test: running one, the events to publish to it, and reading back its
jobs, its work messages and its job state events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import msgspec
from librarrarian_contracts import (
    FileIdentity,
    JobStateChanged,
    MediaProbe,
    MediaProbed,
    StreamInfo,
    Transcode,
    topology,
)
from librarrarian_contracts.codec import queue_decoder, work_decoder
from librarrarian_contracts.settings import TRANSCODE_KEY, TranscodeSettings
from librarrarian_contracts.topology import HwClass
from librarrarian_contracts.views import CommitDecision, CommitRequest, JobsPage, JobsQuery
from librarrarian_runtime.errors import ServiceError
from librarrarian_runtime.queries import ask
from librarrarian_scheduler import service
from librarrarian_scheduler.settings import Settings
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

PROBE = MediaProbe(
    container="mov,mp4",
    duration=5.3,
    video_codec="h264",
    streams=(StreamInfo(index=0, kind="video", codec="h264"),),
)


def probed(path: str, codec: str = "h264", size: int = 1000, mtime_ns: int = 1) -> MediaProbed:
    probe = PROBE if codec == "h264" else MediaProbe(container="matroska", duration=2.0, video_codec=codec)
    return MediaProbed(path=path, identity=FileIdentity(size=size, mtime_ns=mtime_ns, inode=7), probe=probe)


@contextlib.asynccontextmanager
async def running_scheduler(
    nc: Client, settings: Settings, transcode: TranscodeSettings | None = None
) -> AsyncIterator[None]:
    """A scheduler for the block's length, answering before the block starts; ``transcode`` is put in the
    settings bucket first."""
    if transcode is not None:
        kv = await nc.jetstream().key_value(topology.SETTINGS.name)
        await kv.put(TRANSCODE_KEY, msgspec.json.encode(transcode))
    stopping = asyncio.Event()
    task = asyncio.create_task(service.run(settings, stopping))
    await eventually(lambda: answers(nc), timeout=20, message="scheduler answering")
    try:
        yield
    finally:
        stopping.set()
        await asyncio.wait_for(task, 20)


async def granted(nc: Client, job_id: int, attempt: int, delivery: int = 1, node: str = "box") -> None:
    """Take the commit as a worker does before it touches the file: the scheduler counts the outcome of its
    holder only (fencing)."""
    request = CommitRequest(job_id=job_id, attempt=attempt, delivery=delivery, node=node)
    decision = await ask(nc, topology.SCHEDULER_COMMIT, request, CommitDecision)
    assert decision.granted, decision.reason


async def answers(nc: Client) -> bool:
    try:
        await ask(nc, topology.SCHEDULER_JOBS_QUERY, JobsQuery(), JobsPage, timeout=0.5)
    except ServiceError:
        return False
    return True


async def jobs(nc: Client) -> dict[str, dict[str, object]]:
    page = await ask(nc, topology.SCHEDULER_JOBS_QUERY, JobsQuery(limit=100), JobsPage)
    return {
        j.path: {"id": j.id, "status": j.status, "reason": j.reason, "attempts": j.attempts}
        for j in page.items
    }


async def jobs_when(nc: Client, count: int) -> dict[str, dict[str, object]] | None:
    """The jobs once there are ``count`` of them (for ``eventually``)."""
    found = await jobs(nc)
    return found if len(found) >= count else None


async def status_is(nc: Client, path: str, status: str) -> bool:
    return (await jobs(nc)).get(path, {}).get("status") == status


async def pull_work(js: JetStreamContext, count: int) -> list[Transcode]:
    sub = await js.pull_subscribe_bind(
        durable=topology.encoder_durable(HwClass.CPU), stream=topology.WORK.name
    )
    got: list[Transcode] = []
    try:
        while len(got) < count:
            for msg in await sub.fetch(count - len(got), timeout=10):
                got.append(work_decoder.decode(msg.data))
                await msg.ack()
    finally:
        await sub.unsubscribe()
    return got


async def work_messages(js: JetStreamContext) -> int:
    return (await js.stream_info(topology.WORK.name)).state.messages


class StateEvents:
    """Every ``JobStateChanged`` the scheduler publishes from now on, in order (a core subscription, as the
    gateway's live feed has)."""

    def __init__(self) -> None:
        self.events: list[JobStateChanged] = []
        self._sub: object = None

    async def start(self, nc: Client) -> StateEvents:
        async def on_event(msg: Msg) -> None:
            self.events.append(queue_decoder.decode(msg.data))

        self._sub = await nc.subscribe(topology.JOB_STATE_CHANGED, cb=on_event)
        return self

    def changes(self, job_id: int) -> list[str]:
        return [str(e.change) for e in self.events if e.job.id == job_id]

    def last(self, job_id: int) -> JobStateChanged:
        return [e for e in self.events if e.job.id == job_id][-1]
