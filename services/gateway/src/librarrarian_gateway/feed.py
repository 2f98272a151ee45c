"""The gateway's one view of what is happening now, fed from NATS, for the live updates.

A Feed watches the ``nodes``, ``progress`` and ``scans`` KV buckets and listens to the ``job.*`` events and the
cleanup scans' summaries; it keeps the
current entries in memory (so a browser that connects gets its snapshot without a single NATS request) and
hands every change to the Broadcaster as a ready-made server-sent event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from librarrarian_contracts import topology
from librarrarian_contracts.codec import cleanup_decoder, job_decoder
from librarrarian_contracts.scans import ScanStatus
from librarrarian_contracts.topology import BucketSpec
from librarrarian_contracts.views import JobProgress, NodeStatus
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from .broadcaster import QUEUE_SIZE, Broadcaster, Listener, frame

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0
SWEEP_SECONDS = 1.0


@dataclass
class Held:
    data: dict[str, Any]  # what the browser gets: the entry's fields and its key
    expires: float  # event-loop time


class LiveBucket:
    """The current entries of one bucket, as its watch reported them.

    An entry that outlives the bucket's TTL is forgotten here too: the server removes it without telling
    watchers, and a node that died must leave the dashboard all the same.
    """

    def __init__(self, spec: BucketSpec, kind: type[Any], event: str) -> None:
        self.spec, self.event = spec, event
        self.decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(kind)
        self.entries: dict[str, Held] = {}

    def apply(self, entry: KeyValue.Entry, now: float) -> bytes | None:
        """Take one watched entry; the event to send, if it changed anything."""
        if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
            return self.remove(entry.key)
        try:
            value = self.decoder.decode(entry.value)
        except msgspec.DecodeError as error:
            log.warning("live feed: ignoring %s entry %s: %s", self.spec.name, entry.key, error)
            return None
        data = {"key": entry.key, **msgspec.to_builtins(value)}
        self.entries[entry.key] = Held(data, now + self.lifetime(entry.created))
        return frame(self.event, data)

    def lifetime(self, created: object) -> float:
        """How much longer the entry lives: the bucket's TTL less the age it had when it reached us."""
        ttl = self.spec.ttl_seconds
        if ttl is None:
            return math.inf
        # nats-py types ``created`` as an int but hands over the message's datetime.
        age = (datetime.now(UTC) - created).total_seconds() if isinstance(created, datetime) else 0.0
        return ttl - min(max(age, 0.0), ttl)

    def remove(self, key: str) -> bytes | None:
        if self.entries.pop(key, None) is None:
            return None
        return frame(f"{self.event}-removed", {"key": key})

    def keep_only(self, keys: set[str]) -> list[bytes]:
        """After a (re)started watch delivered every current entry: forget the ones it did not deliver."""
        return [chunk for key in set(self.entries) - keys if (chunk := self.remove(key))]

    def expire(self, now: float) -> list[bytes]:
        gone = [key for key, held in self.entries.items() if held.expires <= now]
        return [chunk for key in gone if (chunk := self.remove(key))]

    def values(self) -> list[dict[str, Any]]:
        return [self.entries[key].data for key in sorted(self.entries)]


class Feed:
    def __init__(self, nc: Client, queue_size: int = QUEUE_SIZE) -> None:
        self.nc = nc
        self.broadcaster = Broadcaster(queue_size)
        self.nodes = LiveBucket(topology.NODES, NodeStatus, "node")
        self.progress = LiveBucket(topology.PROGRESS, JobProgress, "progress")
        self.scans = LiveBucket(topology.SCANS, ScanStatus, "scan")
        self.tasks: list[asyncio.Task[None]] = []
        self.subscriptions: list[Subscription] = []

    async def start(self) -> None:
        # Core NATS, not a JetStream consumer: a browser wants what happens from now on, not the stream's past.
        self.subscriptions = [
            await self.nc.subscribe(topology.JOBS.subjects[0], cb=self.on_job),
            await self.nc.subscribe(topology.CLEANUP_SCAN_COMPLETED, cb=self.on_cleanup),
        ]
        self.tasks = [
            asyncio.create_task(self.watch(self.nodes), name="feed-nodes"),
            asyncio.create_task(self.watch(self.progress), name="feed-progress"),
            asyncio.create_task(self.watch(self.scans), name="feed-scans"),
            asyncio.create_task(self.sweep(), name="feed-sweep"),
        ]

    async def stop(self) -> None:
        self.broadcaster.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for subscription in self.subscriptions:
            with contextlib.suppress(Exception):  # the connection may be closing already
                await subscription.unsubscribe()

    def listen(self) -> tuple[bytes, Listener]:
        """A new browser's snapshot and its queue, taken together so no change falls between the two."""
        snapshot = frame(
            "snapshot",
            {"nodes": self.nodes.values(), "progress": self.progress.values(), "scans": self.scans.values()},
        )
        return snapshot, self.broadcaster.listen()

    def forget(self, listener: Listener) -> None:
        self.broadcaster.forget(listener)

    async def watch(self, bucket: LiveBucket) -> None:
        """Follow one bucket for the gateway's life; a watch that breaks is set up again and resynchronised."""
        loop = asyncio.get_running_loop()
        while True:
            watcher = None
            try:
                kv = await self.nc.jetstream().key_value(bucket.spec.name)
                watcher = await kv.watchall()
                delivered: set[str] | None = set()
                async for entry in watcher:
                    if entry is None:  # every entry that existed when the watch started has been delivered
                        if delivered is not None:
                            self.publish(bucket.keep_only(delivered))
                            delivered = None
                        continue
                    if delivered is not None:
                        delivered.add(entry.key)
                    self.publish([bucket.apply(entry, loop.time())])
            except Exception as error:  # noqa: BLE001 - the task's outermost edge: log, wait, watch again
                log.warning(
                    "live feed: watching %s failed (%r); again in %.0f s",
                    bucket.spec.name,
                    error,
                    RETRY_SECONDS,
                )
            finally:
                if watcher is not None:
                    with contextlib.suppress(Exception):
                        await watcher.stop()  # type: ignore[no-untyped-call]
            await asyncio.sleep(RETRY_SECONDS)

    async def sweep(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            now = loop.time()
            self.publish(self.nodes.expire(now) + self.progress.expire(now) + self.scans.expire(now))

    async def on_job(self, msg: Msg) -> None:
        try:
            event = job_decoder.decode(msg.data)
        except msgspec.DecodeError as error:
            log.warning("live feed: ignoring a message on %s: %s", msg.subject, error)
            return
        data = msgspec.to_builtins(event)
        data.pop("detail", None)  # an error log can be long; the API serves it to whoever opens the job
        self.broadcaster.publish(frame("job", data))

    async def on_cleanup(self, msg: Msg) -> None:
        try:
            event = cleanup_decoder.decode(msg.data)
        except msgspec.DecodeError as error:
            log.warning("live feed: ignoring a message on %s: %s", msg.subject, error)
            return
        self.broadcaster.publish(frame("cleanup", msgspec.to_builtins(event)))

    def publish(self, chunks: Sequence[bytes | None]) -> None:
        for chunk in chunks:
            if chunk:
                self.broadcaster.publish(chunk)
