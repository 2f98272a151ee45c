"""Counters of what finished, kept from the scheduler's record as it changes (``queue.job_state_changed``):
jobs done, failed for good and skipped per kind, and the bytes the done transcodes saved.

They count from the gateway's start, as Prometheus counters do (``rate()`` and ``increase()`` take a restart
in their stride); the totals since the first job are on the statistics page. An event is counted once by
its id (``<job>:v<version>``): JetStream may hand a subscriber the same event twice.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter, OrderedDict

import msgspec
from librarrarian_contracts import JobChange, JobStateChanged, topology
from librarrarian_contracts.codec import queue_decoder
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

log = logging.getLogger(__name__)

OUTCOMES = {JobChange.DONE: "done", JobChange.FAILED: "failed", JobChange.SKIPPED: "skipped"}
REMEMBERED_IDS = 4096


class Tally:
    def __init__(self) -> None:
        self.finished: Counter[tuple[str, str]] = Counter()  # (kind, outcome) -> jobs
        self.bytes_saved = 0
        self.seen: OrderedDict[str, None] = OrderedDict()
        self.subscription: Subscription | None = None

    def count(self, event: JobStateChanged) -> None:
        outcome = OUTCOMES.get(event.change)
        if outcome is None or event.event_id in self.seen:
            return
        self.seen[event.event_id] = None
        if len(self.seen) > REMEMBERED_IDS:
            self.seen.popitem(last=False)
        job = event.job
        self.finished[(job.kind.value, outcome)] += 1
        if outcome == "done" and job.size_before is not None and job.size_after is not None:
            self.bytes_saved += max(0, job.size_before - job.size_after)

    async def start(self, nc: Client) -> None:
        async def on_change(msg: Msg) -> None:
            try:
                self.count(queue_decoder.decode(msg.data))
            except msgspec.DecodeError as error:
                log.warning("metrics: ignoring a message on %s: %s", msg.subject, error)

        self.subscription = await nc.subscribe(topology.JOB_STATE_CHANGED, cb=on_change)

    async def stop(self) -> None:
        if self.subscription is not None:
            with contextlib.suppress(Exception):  # the connection may be closing already
                await self.subscription.unsubscribe()
