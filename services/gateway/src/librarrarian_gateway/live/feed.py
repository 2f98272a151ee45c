"""The gateway's one view of what is happening now, fed from NATS, for the live updates.

A Feed follows the ``nodes``, ``progress``, ``scans`` and ``backups`` (the last backup's outcome) KV buckets
and listens to the job reports (``job.*``), the scheduler's job state changes (``queue.job_state_changed``)
and the summaries of the cleanup scans and of the Arr app scans. It keeps the buckets' current entries in
memory (so a browser that connects gets its snapshot without a single NATS request) and hands every change to
the Broadcaster as a ready-made server-sent event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from librarrarian_contracts import topology
from librarrarian_contracts.backups import BackupStatus
from librarrarian_contracts.codec import arr_decoder, cleanup_decoder, job_decoder, queue_decoder
from librarrarian_contracts.scans import ScanStatus
from librarrarian_contracts.views import JobProgress, NodeStatus
from librarrarian_runtime.kv_watch import BucketWatch
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from ..credentials import Principal
from .broadcaster import QUEUE_SIZE, Broadcaster, Listener, frame
from .buckets import LiveBucket

log = logging.getLogger(__name__)

SWEEP_SECONDS = 1.0


class Feed:
    def __init__(self, nc: Client, queue_size: int = QUEUE_SIZE) -> None:
        self.nc = nc
        self.broadcaster = Broadcaster(queue_size)
        self.nodes = LiveBucket(topology.NODES, NodeStatus, "node")
        self.progress = LiveBucket(topology.PROGRESS, JobProgress, "progress")
        self.scans = LiveBucket(topology.SCANS, ScanStatus, "scan")
        self.backups = LiveBucket(topology.BACKUP_STATUS, BackupStatus, "backup")
        self.watches: list[BucketWatch] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.subscriptions: list[Subscription] = []

    async def start(self) -> None:
        # Core NATS, not a JetStream consumer: a browser wants what happens from now on, not the stream's past.
        self.subscriptions = [
            await self.nc.subscribe(topology.JOBS.subjects[0], cb=self.relay("job", job_decoder, _no_log)),
            await self.nc.subscribe(
                topology.JOB_STATE_CHANGED, cb=self.relay("job-state", queue_decoder, _no_job_log)
            ),
            await self.nc.subscribe(
                topology.CLEANUP_SCAN_COMPLETED, cb=self.relay("cleanup", cleanup_decoder, _as_is)
            ),
            await self.nc.subscribe(
                topology.ARR_SCAN_COMPLETED, cb=self.relay("arr-scan", arr_decoder, _as_is)
            ),
        ]
        self.watches = list(
            await asyncio.gather(
                *(self.watch(b) for b in (self.nodes, self.progress, self.scans, self.backups))
            )
        )
        self.tasks = [asyncio.create_task(self.sweep(), name="feed-sweep")]

    async def stop(self) -> None:
        self.broadcaster.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for watch in self.watches:
            await watch.stop()
        for subscription in self.subscriptions:
            with contextlib.suppress(Exception):  # the connection may be closing already
                await subscription.unsubscribe()

    def listen(self, principal: Principal | None = None) -> tuple[bytes, Listener]:
        """A new browser's snapshot and its queue, taken together so no change falls between the two."""
        snapshot = frame(
            "snapshot",
            {
                "nodes": self.nodes.values(),
                "progress": self.progress.values(),
                "scans": self.scans.values(),
                "backups": self.backups.values(),
            },
        )
        return snapshot, self.broadcaster.listen(principal)

    def forget(self, listener: Listener) -> None:
        self.broadcaster.forget(listener)

    async def watch(self, bucket: LiveBucket) -> BucketWatch:
        """Follow one bucket for the gateway's life; after each (re)start of the watch, the entries it no
        longer holds are removed."""
        loop = asyncio.get_running_loop()
        return await BucketWatch(
            self.nc.jetstream(),
            bucket.spec.name,
            lambda entry: self.publish([bucket.apply(entry, loop.time())]),
            on_synced=lambda keys: self.publish(bucket.keep_only(keys)),
        ).start()

    async def sweep(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            now = loop.time()
            self.publish(self.nodes.expire(now) + self.progress.expire(now) + self.scans.expire(now))

    def relay(
        self,
        event: str,
        decoder: msgspec.json.Decoder[Any],
        shown: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> Callable[[Msg], Any]:
        """A subscription's callback: each message decoded, as the browsers may see it, sent as ``event``."""

        async def on_message(msg: Msg) -> None:
            try:
                message = decoder.decode(msg.data)
            except msgspec.DecodeError as error:  # a ValidationError too
                log.warning("live feed: ignoring a message on %s: %s", msg.subject, error)
                return
            self.broadcaster.publish(frame(event, shown(msgspec.to_builtins(message))))

        return on_message

    def publish(self, chunks: Sequence[bytes | None]) -> None:
        for chunk in chunks:
            if chunk:
                self.broadcaster.publish(chunk)


# An error log can be long: the API serves it to whoever opens the job (GET /api/v1/jobs/{id}).
def _no_log(report: dict[str, Any]) -> dict[str, Any]:
    report.pop("detail", None)
    report.pop("previews", None)  # an output kept for review: its frames are read from the API when shown
    return report


def _no_job_log(change: dict[str, Any]) -> dict[str, Any]:
    change["job"].pop("error_log", None)
    return change


def _as_is(message: dict[str, Any]) -> dict[str, Any]:
    return message
