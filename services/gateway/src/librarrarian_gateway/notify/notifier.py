"""The notifier: turns what the gateway follows into notices, gathers them (:mod:`coalescing`) and sends
them (:mod:`sending`) to the URLs of :mod:`targets`.

Why in the gateway rather than a service of its own: the gateway already follows every event it needs (the
scheduler's record, ``backup.failed``, the ``nodes`` bucket through the live feed), its schema is where the
URLs can be kept out of the settings bucket that every node reads, and it is the one that answers the
Options page's "send a test". A new service would need its own NATS user, database role and image for no
more than that. Only one gateway replica sends: the one holding a PostgreSQL advisory lock (the lease), as
the scheduler's outbox relay does. Core NATS subscriptions, not a durable: what happens while no gateway
runs is not notified (a job failed meanwhile is on the queue page all the same).

Events: a job failed for good (its record's ``failed`` change); a node's entry left the ``nodes`` bucket
(stopped, or stopped writing it); the queue emptied (no job pending or running, after jobs finished); a
backup failed; a node runs another version than this gateway (once per node and version).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections import Counter
from collections.abc import Callable
from typing import Any

import asyncpg
import msgspec
from librarrarian_contracts import JobChange, JobStatus, topology
from librarrarian_contracts.codec import backup_decoder, queue_decoder
from librarrarian_contracts.settings import NOTIFICATIONS_KEY, NotificationSettings
from librarrarian_contracts.views import Nothing, QueueMetrics
from librarrarian_runtime.errors import ServiceError
from librarrarian_runtime.outbound import PrivateServers
from librarrarian_runtime.queries import ask
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from ..backend import Backend
from ..live.feed import Feed
from . import sending, targets
from .coalescing import Coalescer, Notice

log = logging.getLogger(__name__)

LEASE_KEY = zlib.crc32(b"librarrarian:gateway:notifier")
TICK_SECONDS = 0.5
FINISHED = {JobChange.DONE: "done", JobChange.FAILED: "failed", JobChange.SKIPPED: "skipped"}
WAITING = {JobStatus.PENDING, JobStatus.RUNNING}  # awaiting approval waits for a user, not for the nodes


class Notifier:
    def __init__(
        self,
        backend: Backend,
        feed: Feed,
        pool: asyncpg.Pool,
        database_url: str,
        version: str,
        allowed: PrivateServers,
    ) -> None:
        self.backend, self.feed, self.pool = backend, feed, pool
        self.database_url, self.version, self.allowed = database_url, version, allowed
        self.coalescer = Coalescer()
        self.settings = NotificationSettings()
        self.nodes: set[str] | None = None  # None until the first look
        self.mismatches_told: set[tuple[str, str]] = set()
        self.finished_since_drained: Counter[str] = Counter()
        self.drain_check = False
        self.subscriptions: list[Subscription] = []
        self.task: asyncio.Task[None] | None = None
        # Stopping is said by this event as well as by cancelling the task: on Python 3.11 a cancel that
        # arrives as a NATS reply does is swallowed by asyncio.wait_for, and the loop would go on for ever.
        self.stopping = asyncio.Event()
        self.lease: asyncpg.Connection | None = None

    async def start(self) -> None:
        nc = self.backend.nc
        self.subscriptions = [
            await nc.subscribe(topology.JOB_STATE_CHANGED, cb=self._on(queue_decoder, self.record_changed)),
            await nc.subscribe(topology.BACKUP_FAILED, cb=self._on(backup_decoder, self.backup_failed)),
        ]
        self.task = asyncio.create_task(self.run(), name="notifier")

    async def stop(self) -> None:
        self.stopping.set()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        for subscription in self.subscriptions:
            with contextlib.suppress(Exception):  # the connection may be closing already
                await subscription.unsubscribe()
        if self.lease is not None:
            await self.lease.close()

    def notice(self, notice: Notice) -> None:
        self.coalescer.add(notice, asyncio.get_running_loop().time())

    # --- what happened ------------------------------------------------------------------------------

    def record_changed(self, change: Any) -> None:
        job = change.job
        if change.change == JobChange.FAILED:
            self.notice(Notice("job_failed", f"{job.path}: {job.reason or 'no reason given'}"))
        if change.change in FINISHED:
            self.finished_since_drained[FINISHED[change.change]] += 1
        if change.change in (*FINISHED, JobChange.REMOVED):
            self.drain_check = True

    def backup_failed(self, failed: Any) -> None:
        self.notice(
            Notice(
                "backup_failed",
                f"{failed.occurred_at:%Y-%m-%d %H:%M} UTC ({failed.trigger}): {failed.reason}",
            )
        )

    def look_at_nodes(self) -> None:
        entries = {n["key"]: n for n in self.feed.nodes.values()}
        if self.nodes is not None:
            for gone in sorted(self.nodes - set(entries)):
                self.notice(Notice("node_offline", f"{gone} stopped or stopped answering"))
        self.nodes = set(entries)
        for name, entry in sorted(entries.items()):
            version = str(entry.get("version"))
            if version != self.version and (name, version) not in self.mismatches_told:
                self.mismatches_told.add((name, version))
                self.notice(
                    Notice("version_mismatch", f"{name} runs {version}; the dashboard runs {self.version}")
                )

    async def look_at_queue(self) -> None:
        if not self.drain_check:
            return
        self.drain_check = False
        try:
            metrics = await ask(self.backend.nc, topology.SCHEDULER_METRICS, Nothing(), QueueMetrics)
        except ServiceError:
            self.drain_check = True  # ask again at the next tick
            return
        waiting = sum(d.jobs for d in metrics.depth if d.status in WAITING)
        if waiting == 0 and self.finished_since_drained:
            done = self.finished_since_drained
            self.notice(
                Notice(
                    "queue_drained",
                    f"{done['done']} done, {done['failed']} failed, {done['skipped']} skipped",
                )
            )
            self.finished_since_drained = Counter()

    # --- sending ------------------------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.stopping.is_set():
            try:
                self.settings = await self.backend.setting(
                    NOTIFICATIONS_KEY, NotificationSettings, NotificationSettings()
                )
                self.look_at_nodes()
                await self.look_at_queue()
                for message in self.coalescer.due(loop.time(), self.settings.window_seconds):
                    if message.event in self.settings.events and await self.holds_lease():
                        delivery = await sending.send(
                            await targets.urls(self.pool), message.title, message.body, self.allowed
                        )
                        log.info(
                            "notified %s (%d notices) to %d targets: %s",
                            message.event,
                            message.notices,
                            delivery.targets,
                            "sent" if delivery.sent else "not every target took it",
                        )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("notifications: this round failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), TICK_SECONDS)

    async def holds_lease(self) -> bool:
        """Whether this gateway is the one that sends (one replica at a time)."""
        if self.lease is None or self.lease.is_closed():
            self.lease = await asyncpg.connect(self.database_url)
        return bool(await self.lease.fetchval("SELECT pg_try_advisory_lock($1)", LEASE_KEY))

    def _on(self, decoder: msgspec.json.Decoder[Any], handle: Callable[[Any], None]) -> Callable[[Msg], Any]:
        async def on_message(msg: Msg) -> None:
            try:
                handle(decoder.decode(msg.data))
            except msgspec.DecodeError as error:
                log.warning("notifications: ignoring a message on %s: %s", msg.subject, error)

        return on_message
