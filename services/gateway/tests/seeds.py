"""What the gateway's tests put on the bus for the services to record, as the scanner, the encoders and the
cleanup service would: probed files, job reports, node and progress entries; and waiting until the
scheduler or history has recorded them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Literal

from librarrarian_contracts import (
    FileIdentity,
    JobCompleted,
    JobFailed,
    MediaProbe,
    MediaProbed,
    StreamInfo,
    encode,
    publish,
    topology,
)
from librarrarian_contracts.views import JobProgress, NodeStatus
from librarrarian_testing import eventually

from .sites import Site

PROBE = MediaProbe(
    container="matroska",
    duration=60.0,
    video_codec="h264",
    streams=(StreamInfo(index=0, kind="video", codec="h264"),),
)
HEAT = "/m/Movies/Heat (1995).mp4"


def node(
    name: str = "node-a", state: str = "running", jobs: tuple[int, ...] = (7,), library: bool = True
) -> bytes:
    status = NodeStatus(
        node=name,
        hostname="box",
        version="0.1.0",
        classes=("cpu",),
        slots=1,
        state=state,
        jobs=jobs,
        library=library,
    )
    return encode(status)


def progress(
    percent: float,
    job_id: int = 7,
    path: str = HEAT,
    phase: Literal["searching", "encoding"] = "encoding",
    **segments: object,
) -> bytes:
    return encode(
        JobProgress(
            job_id=job_id,
            node="node-a",
            path=path,
            percent=percent,
            fps=48.0,
            speed=1.9,
            eta_seconds=75.0,
            phase=phase,
            **segments,  # type: ignore[arg-type]
        )
    )


def completed(job_id: int = 99, path: str = "/m/TV/Show S01E01.mkv", node: str = "node-a") -> JobCompleted:
    """A transcode finished by ``node``: 2 GB of H.264 became 800 MB of HEVC in 15 minutes."""
    return JobCompleted(
        job_id=job_id,
        attempt=1,
        node=node,
        path=path,
        output_path=path,
        encoder="libx265",
        codec_before="h264",
        codec_after="hevc",
        size_before=2_000_000_000,
        size_after=800_000_000,
        duration=2700.0,
        elapsed_seconds=900.0,
        ffmpeg_log="[matroska @ 0x55d1] Starting new cluster due to timestamp",
    )


def failure(
    job_id: int,
    path: str,
    log: str,
    *,
    retryable: bool = False,
    reason: str = "ffmpeg exited 1",
    attempt: int = 1,
) -> JobFailed:
    """The attempt failed on ``box``, in the delivery the tests start it with (only that delivery's report
    counts while it runs)."""
    return JobFailed(
        job_id=job_id,
        attempt=attempt,
        node="box",
        delivery=1,
        path=path,
        reason=reason,
        detail=log,
        retryable=retryable,
    )


@contextlib.asynccontextmanager
async def node_alive(site: Site, entry: bytes, name: str = "node-a") -> AsyncIterator[None]:
    """A node's entry kept in the ``nodes`` bucket for the block's length, written again at the encoders'
    heartbeat (the bucket forgets an entry not written for a few heartbeats, and a slow test outlives it)."""
    nodes = await site.js.key_value(topology.NODES.name)
    await nodes.put(name, entry)

    async def beat() -> None:
        while True:
            await asyncio.sleep(topology.NODE_HEARTBEAT_SECONDS)
            await nodes.put(name, entry)

    beating = asyncio.create_task(beat())
    try:
        yield
    finally:
        beating.cancel()
        await asyncio.gather(beating, return_exceptions=True)


async def queue_files(site: Site, *paths: str, first_inode: int = 1) -> dict[str, int]:
    """Files probed into pending jobs (each its own file: inodes from ``first_inode`` on); their job ids by
    path, once the scheduler lists them."""
    for inode, path in enumerate(paths, start=first_inode):
        identity = FileIdentity(size=100 + inode, mtime_ns=1, inode=inode)
        await publish(site.js, MediaProbed(path=path, identity=identity, probe=PROBE))
    async with site.client() as api:

        async def queued() -> dict[str, int] | None:
            found = {j["path"]: j["id"] for j in (await api.get("/api/v1/jobs")).json()["items"]}
            return found if set(paths) <= set(found) else None

        return await eventually(queued, timeout=30, message="jobs queued")


async def queue_file(site: Site, path: str, inode: int = 1) -> int:
    return (await queue_files(site, path, first_inode=inode))[path]


async def seed_queue_and_history(site: Site) -> None:
    """A file waiting in the queue and a finished transcode in the history, as the services record them."""
    await queue_file(site, HEAT)
    await publish(site.js, completed())
    async with site.client() as api:

        async def recorded() -> bool:
            return bool((await api.get("/api/v1/history")).json()["items"])

        await eventually(recorded, message="history recorded the finished transcode")


async def seed_cluster(site: Site) -> None:
    """A node running a job with its progress, besides a queued file and a finished transcode. The node
    last: its entry lives a few heartbeats, and seeding the queue and the history may take as long."""
    await seed_queue_and_history(site)
    await (await site.js.key_value(topology.NODES.name)).put("node-a", node(jobs=(1,)))
    await (await site.js.key_value(topology.PROGRESS.name)).put("1", progress(42.0, job_id=1))
