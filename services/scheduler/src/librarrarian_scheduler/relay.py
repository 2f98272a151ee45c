"""The outbox relay (architecture §3.1): publishes what the scheduler decided, exactly as recorded.

Only one relay runs at a time across replicas: it holds a session-level advisory lock (the lease) on its
own connection, which also LISTENs for new rows. Rows are published with ``Nats-Msg-Id`` so a relay that
dies between publishing and marking a row sent publishes it again harmlessly. A stream that does not answer
(a JetStream cluster electing its leader) is asked again at the next sweep; its rows wait, unsent.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Callable, Sequence

import asyncpg
from librarrarian_contracts import topology
from librarrarian_contracts.settings import LibraryFolder, QueueOrder
from librarrarian_runtime import lifecycle
from librarrarian_runtime.streaks import FailureStreak
from nats.errors import NoRespondersError
from nats.js import JetStreamContext
from nats.js.errors import NoStreamResponseError, ServiceUnavailableError

from . import ordering
from .store import NOTIFY_CHANNEL

log = logging.getLogger(__name__)

LEASE_KEY = zlib.crc32(b"librarrarian:scheduler:relay")
SWEEP_SECONDS = 1.0
BATCH = 100
# Sent state events are kept this long (the QUEUE stream keeps them for subscribers), then pruned.
KEEP_SENT_EVENTS = "1 day"
PRUNE_EVERY_SECONDS = 600.0
TRANSCODES = f"{topology.WORK_TRANSCODE}.%"  # held back and released in the queue's order
# Due rows but transcodes, from the index that holds only those (``outbox_unsent_others``, whose condition
# this repeats word for word), not by reading past every transcode held back.
DUE_OTHERS = (
    "SELECT id, subject, msg_id, payload FROM outbox WHERE sent_at IS NULL AND not_before <= now()"
    f" AND subject NOT LIKE '{TRANSCODES}' ORDER BY not_before, id LIMIT $1"
)
# Whether a class has transcodes to release: one probe of the unsent rows' index per class.
DUE_TRANSCODES = (
    "SELECT EXISTS (SELECT 1 FROM outbox WHERE sent_at IS NULL AND subject = $1 AND not_before <= now())"
)


class Relay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        database_url: str,
        order: Callable[[], QueueOrder] = QueueOrder,
        folders: Callable[[], Sequence[LibraryFolder]] = tuple,
    ) -> None:
        self.pool = pool
        self.js = js
        self.database_url = database_url
        self.order, self.folders = order, folders
        self.wake = asyncio.Event()
        self.streak = FailureStreak(log, "publishing the outbox")

    async def flush(self) -> int:
        """Publish every due unsent row (transcodes only as far as their class's window allows); return how
        many were sent."""
        sent = 0
        while True:
            rows = await self.pool.fetch(DUE_OTHERS, BATCH)
            await self._publish(rows)
            sent += len(rows)
            if len(rows) < BATCH:
                return sent + await self._release_transcodes()

    async def _release_transcodes(self) -> int:
        """Top each hardware class's waiting messages in the stream up to the window, from the queue's head
        in its current order: encoders take work in stream order, so what is not yet released can still be
        reordered."""
        order = self.order()
        query = ordering.next_rows_query(order.order)
        paths, priorities = ordering.folder_priorities(self.folders())
        sent = 0
        # The classes of this version's (another's are left for a scheduler that knows them).
        for spec in topology.WORK_CONSUMERS.values():
            subject = spec.filter_subject
            if not await self.pool.fetchval(DUE_TRANSCODES, subject):
                continue
            info = await self.js.consumer_info(spec.stream, spec.durable)
            waiting = int(info.num_pending or 0)
            free = order.window - waiting
            if free <= 0:
                continue
            rows = await self.pool.fetch(query, subject, free, paths, priorities)
            await self._publish(rows)
            sent += len(rows)
        return sent

    async def _publish(self, rows: list[asyncpg.Record]) -> None:
        for row in rows:
            ack = await self.js.publish(
                row["subject"], row["payload"], headers={"Nats-Msg-Id": row["msg_id"]}
            )
            await self.pool.execute(
                "UPDATE outbox SET sent_at = now(), stream_seq = $2 WHERE id = $1", row["id"], ack.seq
            )
            log.debug("dispatched %s to %s", row["msg_id"], row["subject"])

    async def prune(self) -> int:
        """Forget state events sent long ago: their rows belong to no job and would pile up for ever."""
        done = await self.pool.execute(
            "DELETE FROM outbox WHERE job_id IS NULL AND sent_at IS NOT NULL"
            f" AND sent_at < now() - interval '{KEEP_SENT_EVENTS}'"
        )
        return int(done.split()[-1])

    async def _next_due_in(self) -> float:
        # Due rows still unsent after a flush are transcodes held back for their class's window: the sweep
        # (or a wake-up) looks again, rather than a busy loop.
        seconds = await self.pool.fetchval(
            "SELECT EXTRACT(EPOCH FROM min(not_before) - now()) FROM outbox WHERE sent_at IS NULL"
        )
        return SWEEP_SECONDS if seconds is None or seconds <= 0 else min(SWEEP_SECONDS, float(seconds))

    async def run(self, stopping: asyncio.Event) -> None:
        lease = await asyncpg.connect(self.database_url)
        try:
            while not await lease.fetchval("SELECT pg_try_advisory_lock($1)", LEASE_KEY):
                if stopping.is_set():
                    return
                try:
                    await asyncio.wait_for(stopping.wait(), 2.0)
                except TimeoutError:
                    continue
            log.info("outbox relay holds the lease")
            await lease.add_listener(NOTIFY_CHANNEL, lambda *_: self.wake.set())
            pruned_at = 0.0
            loop = asyncio.get_running_loop()
            while not stopping.is_set():
                self.wake.clear()
                try:
                    await self.flush()
                    self.streak.succeeded()
                except (
                    NoStreamResponseError,
                    ServiceUnavailableError,
                    NoRespondersError,
                    TimeoutError,
                ) as error:
                    self.streak.failed(error)
                    await lifecycle.wait_or_stop(stopping, SWEEP_SECONDS)
                    continue
                if loop.time() - pruned_at >= PRUNE_EVERY_SECONDS:
                    pruned_at = loop.time()
                    await self.prune()
                waiter = asyncio.ensure_future(self.wake.wait())
                stopper = asyncio.ensure_future(stopping.wait())
                try:
                    await asyncio.wait(
                        {waiter, stopper},
                        timeout=await self._next_due_in(),
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                finally:
                    waiter.cancel()
                    stopper.cancel()
        finally:
            await lease.close()
