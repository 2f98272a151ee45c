"""Moving waiting work off a hardware class that has had no live node for a while (its GPU box is off):
the jobs would otherwise wait for it forever.

A waiting message is taken from the class's durable and the job's attempt is queued again, through the
outbox, for the class :mod:`placement` chooses now. The job row changes first, then the old message is
acked: a crash in between leaves two messages for one attempt, and commit fencing lets only one replace.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import asyncpg
import msgspec
from librarrarian_contracts import Transcode, topology
from librarrarian_contracts.settings import TranscodeSettings
from librarrarian_contracts.topology import HwClass
from librarrarian_runtime import lifecycle
from librarrarian_runtime.consumer import Puller
from librarrarian_runtime.watched import Watched
from nats.js import JetStreamContext

from . import store
from .placement import Placement

log = logging.getLogger(__name__)

BATCH = 100


class Rebalancer:
    def __init__(
        self,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        placement: Placement,
        transcode: Watched[TranscodeSettings],
        on_enqueue: Callable[[], None],
        orphan_seconds: float,
    ) -> None:
        self.pool, self.js, self.placement, self.transcode = pool, js, placement, transcode
        self.on_enqueue = on_enqueue
        self.orphan_seconds = orphan_seconds
        started = time.monotonic()  # nodes get the benefit of the doubt while the scheduler starts
        self.last_seen = dict.fromkeys(HwClass, started)

    def orphaned(self) -> list[HwClass]:
        """Classes with no live node for ``orphan_seconds``."""
        now = time.monotonic()
        for hw in self.placement.live_classes():
            self.last_seen[hw] = now
        return [hw for hw, seen in self.last_seen.items() if now - seen >= self.orphan_seconds]

    async def run(self, stopping: asyncio.Event) -> None:
        interval = max(1.0, self.orphan_seconds / 4)
        await lifecycle.periodically(stopping, interval, self.pass_once, what="moving waiting work")

    async def pass_once(self) -> int:
        moved = 0
        for hw in self.orphaned():
            target = self.placement.choose(self.transcode.value)
            if target is hw:
                continue
            spec = topology.WORK_CONSUMERS[hw]
            info = await self.js.consumer_info(spec.stream, spec.durable)
            if not info.num_pending:
                continue
            moved += await self._move(hw, target)
        return moved

    async def _move(self, source: HwClass, target: HwClass) -> int:
        spec = topology.WORK_CONSUMERS[source]
        sub = await self.js.pull_subscribe_bind(durable=spec.durable, stream=spec.stream)
        puller = Puller(sub, spec.durable)
        moved = 0
        try:
            while True:
                messages = await puller.pull(BATCH)
                if not messages:
                    break
                for msg in messages:
                    try:
                        request = msgspec.json.decode(msg.data, type=Transcode)
                    except (msgspec.DecodeError, msgspec.ValidationError):
                        await msg.term()
                        continue
                    async with self.pool.acquire() as conn, conn.transaction():
                        still_waiting = await conn.fetchval(
                            "SELECT true FROM jobs WHERE id = $1 AND attempts = $2 AND status = 'pending'"
                            " AND hw_class = $3 FOR UPDATE",
                            request.job_id,
                            request.attempt,
                            source.value,
                        )
                        if still_waiting:
                            await store.enqueue(conn, request.job_id, hw_class=target.value)
                            moved += 1
                    await msg.ack()
        finally:
            await sub.unsubscribe()
        if moved:
            log.warning(
                "moved %d waiting job(s) from %s (no live node for %.0f s) to %s",
                moved,
                source,
                self.orphan_seconds,
                target,
            )
            self.on_enqueue()
        return moved
