"""The live feed at /api/v1/events: the fan-out on its own, then a real gateway on NATS and PostgreSQL, and
with the real scheduler behind it for the job state events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import cast

import httpx
from librarrarian_contracts import JobCompleted, JobStarted, encode, publish, topology
from librarrarian_contracts.views import JobProgress, NodeStatus
from librarrarian_gateway.live.broadcaster import Broadcaster, frame
from librarrarian_gateway.live.buckets import LiveBucket
from librarrarian_gateway.live.events import HEARTBEAT, RETRY, stream
from librarrarian_gateway.live.feed import Feed
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from .seeds import failure, queue_file
from .sites import Site

# --- the fan-out, without servers --------------------------------------------------------------------


async def test_a_slow_listener_is_dropped_and_the_others_keep_everything() -> None:
    broadcaster = Broadcaster(queue_size=3)
    slow, fast = broadcaster.listen(), broadcaster.listen()
    for n in range(5):
        broadcaster.publish(b"%d" % n)
        assert await fast.next(1) == b"%d" % n
    assert slow.dropped and await slow.next(1) is None  # its backlog is thrown away, then it ends
    assert broadcaster.listeners == {fast}
    assert await fast.next(0.01) == b""  # nothing new: time for a heartbeat


async def test_closing_ends_every_stream_and_any_later_one() -> None:
    broadcaster = Broadcaster()
    listener = broadcaster.listen()
    broadcaster.publish(b"x")
    broadcaster.close()
    assert await listener.next(1) is None
    assert await broadcaster.listen().next(1) is None


async def test_a_stream_opens_with_retry_and_snapshot_then_beats_while_quiet() -> None:
    feed = Feed(cast(Client, None))  # listening needs no connection: the snapshot comes from memory
    chunks = stream(feed, heartbeat_seconds=0.01)
    assert await anext(chunks) == RETRY + frame(
        "snapshot", {"nodes": [], "progress": [], "scans": [], "backups": []}
    )
    assert await anext(chunks) == HEARTBEAT
    feed.broadcaster.publish(b"event: job\ndata: {}\n\n")
    assert await anext(chunks) == b"event: job\ndata: {}\n\n"
    feed.broadcaster.close()
    assert [chunk async for chunk in chunks] == []
    assert not feed.broadcaster.listeners


def entry(key: str, value: bytes | None, created: datetime, operation: str | None = None) -> KeyValue.Entry:
    return KeyValue.Entry(
        bucket="nodes",
        key=key,
        value=value,
        revision=1,
        delta=0,
        created=created,
        operation=operation,  # type: ignore[arg-type]
    )


def test_a_node_past_the_buckets_ttl_is_removed_even_though_nats_says_nothing() -> None:
    bucket = LiveBucket(topology.NODES, NodeStatus, "node")
    status = NodeStatus(node="a", hostname="h", version="1", classes=("cpu",), slots=1, state="running")
    ttl = topology.NODES.ttl_seconds
    assert ttl is not None
    now = datetime.now(UTC)
    # An entry that was already 5 s old when the watch delivered it lives ttl - 5 s more.
    assert bucket.apply(entry("a", encode(status), now - timedelta(seconds=5)), 100.0) == frame(
        "node", {"key": "a", **json.loads(encode(status))}
    )
    assert bucket.expire(100.0 + ttl - 6) == []
    assert bucket.expire(100.0 + ttl - 4) == [frame("node-removed", {"key": "a"})]
    assert bucket.values() == []
    # A deletion is a removal; a garbled value changes nothing.
    bucket.apply(entry("a", encode(status), now), 0.0)
    assert bucket.apply(entry("b", b"{not json", now), 0.0) is None
    assert bucket.apply(entry("a", None, now, "DEL"), 0.0) == frame("node-removed", {"key": "a"})


# --- a real gateway ----------------------------------------------------------------------------------


async def events(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, object]]]:
    """Server-sent events as (name, data); ``retry`` comes as its own pair, comments are skipped."""
    name, data = "message", ""
    async for line in response.aiter_lines():
        if line.startswith("retry:"):
            yield "retry", {"ms": int(line[6:])}
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
        elif not line and data:
            yield name, json.loads(data)
            name, data = "message", ""


async def next_event(stream: AsyncIterator[tuple[str, dict[str, object]]], name: str) -> dict[str, object]:
    async with asyncio.timeout(10):
        async for event, data in stream:
            if event == name:
                return data
    raise AssertionError(f"the stream ended before a {name} event")


async def next_change(stream: AsyncIterator[tuple[str, dict[str, object]]], change: str) -> dict[str, object]:
    """The next ``job-state`` event reporting ``change`` (the job's earlier changes may still be arriving)."""
    while (event := await next_event(stream, "job-state"))["change"] != change:
        pass
    return event


def progress(percent: float) -> bytes:
    return encode(
        JobProgress(job_id=7, node="node-a", path="/m/Heat.mkv", percent=percent, fps=30, speed=1.2)
    )


async def test_the_stream_needs_a_login_or_a_key(gateway: Site) -> None:
    async with gateway.client(key=None) as anonymous:
        response = await anonymous.get("/api/v1/events")
        assert response.status_code == 401 and "X-Api-Key" in response.json()["detail"]
        response = await anonymous.get("/api/v1/events", headers={"X-Api-Key": "wrong"})
        assert response.status_code == 401


async def test_a_snapshot_then_every_change_as_it_happens(
    gateway: Site, bus: tuple[Client, JetStreamContext]
) -> None:
    _, js = bus
    nodes, running = (await js.key_value(topology.NODES.name), await js.key_value(topology.PROGRESS.name))
    status = NodeStatus(
        node="node-a", hostname="box", version="0.1.0", classes=("cpu",), slots=1, state="running", jobs=(7,)
    )
    await nodes.put("node-a", encode(status))
    await running.put("7", progress(10.0))
    async with gateway.client() as api:

        async def snapshot_has_both() -> bool:
            async with api.stream("GET", "/api/v1/events") as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                stream = events(response)
                assert await anext(stream) == ("retry", {"ms": 3000})
                snapshot = await next_event(stream, "snapshot")
                return bool(snapshot["nodes"] and snapshot["progress"])

        await eventually(snapshot_has_both, message="the feed has read the buckets")
        async with api.stream("GET", "/api/v1/events") as response:
            stream = events(response)
            snapshot = await next_event(stream, "snapshot")
            assert snapshot["nodes"] == [{"key": "node-a", **json.loads(encode(status))}]
            assert [(p["key"], p["percent"]) for p in snapshot["progress"]] == [("7", 10.0)]  # type: ignore[attr-defined, index]

            await running.put("7", progress(55.5))
            update = await next_event(stream, "progress")
            assert update["key"] == "7" and update["percent"] == 55.5 and update["fps"] == 30

            await publish(
                js,
                JobCompleted(
                    job_id=7,
                    attempt=1,
                    node="node-a",
                    path="/m/Heat.mkv",
                    output_path="/m/Heat.mkv",
                    encoder="libx265",
                    codec_before="h264",
                    codec_after="hevc",
                    size_before=10,
                    size_after=5,
                    duration=1.0,
                    elapsed_seconds=1.0,
                ),
            )
            job = await next_event(stream, "job")
            assert job["type"] == "job.completed" and job["job_id"] == 7
            await running.delete("7")
            assert await next_event(stream, "progress-removed") == {"key": "7"}
            await nodes.delete("node-a")
            assert await next_event(stream, "node-removed") == {"key": "node-a"}


async def test_an_open_stream_does_not_hold_up_the_gateways_shutdown(gateway: Site) -> None:
    async with (
        gateway.client() as api,
        api.stream("GET", "/api/v1/events") as response,
    ):
        stream = events(response)
        await next_event(stream, "snapshot")
        gateway.stopping.set()
        await asyncio.wait_for(asyncio.shield(gateway.task), 10)
        async with asyncio.timeout(5):
            assert [name async for name, _ in stream] == []  # the stream simply ended


async def test_each_change_of_a_jobs_record_comes_as_job_state_without_the_log(site: Site) -> None:
    path = "/m/TV/Heat.mkv"
    job_id = await queue_file(site, path)
    async with site.client() as api, api.stream("GET", "/api/v1/events") as response:
        stream = events(response)
        await next_event(stream, "snapshot")
        await publish(site.js, JobStarted(job_id=job_id, attempt=1, delivery=1, node="box", path=path))
        running = await next_change(stream, "running")
        job = running["job"]
        assert isinstance(job, dict) and (job["id"], job["status"], job["node"]) == (job_id, "running", "box")
        assert running["type"] == "queue.job_state_changed"
        assert running["event_id"] == f"{job_id}:v{job['version']}"

        await publish(site.js, failure(job_id, path, "frame 1: invalid data\n" * 500))
        ended = await next_change(stream, "failed")
        record = ended["job"]
        assert isinstance(record, dict) and record["version"] == job["version"] + 1
        assert (record["status"], record["reason"]) == ("failed", "ffmpeg exited 1")
        assert "error_log" not in record  # the API serves it
        served = (await api.get(f"/api/v1/jobs/{job_id}")).json()
        assert served["error_log"] == "frame 1: invalid data\n" * 500
        assert served == {**record, "error_log": served["error_log"]}

        assert (await api.delete(f"/api/v1/jobs/{job_id}")).status_code == 200
        removed = await next_change(stream, "removed")
        assert removed["job"]["id"] == job_id  # type: ignore[index]
