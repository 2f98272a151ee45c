"""A job encoded in segments, shared with the nodes without the library: each such node of the job's class
reaches only a transfer store of its own (``topology.remote_store``), so the joining node puts there what
the node needs of the job (the source first, then the plan, whose presence says "this job is yours to help
with"), and follows that store for the node's segments. A node that starts while the job runs is shared
with at the joining node's next look; one whose store cannot be written (not named in the cluster's
configuration) is left out, and the other nodes do its share."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

import msgspec
from librarrarian_contracts import topology
from librarrarian_contracts.views import NodeStatus
from librarrarian_runtime import kv_entries
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy, ObjectInfo

from . import transfers
from .job import Planned

log = logging.getLogger(__name__)


class Shares:
    """The nodes without the library one attempt of a job is shared with, and their stores."""

    def __init__(
        self,
        js: JetStreamContext,
        job: Planned,
        node: str,
        plan: tuple[str, str],
        limit: int,
    ) -> None:
        self.js, self.job, self.node, self.limit = js, job, node, limit
        self.plan_object, self.plan_text = plan
        self.source_object = transfers.name(job.id, job.request.attempt, "source")
        self.stores: dict[str, str] = {}  # node -> its store
        self._left_out: set[str] = set()
        self._hw: str | None = None

    async def refresh(self, hw: str) -> list[str]:
        """Share the job with the live nodes of class ``hw`` without the library it is not shared with yet;
        the stores newly shared."""
        self._hw = hw
        added = []
        for remote in await live_remote_nodes(self.js, hw):
            if remote in self.stores or remote in self._left_out:
                continue
            try:
                store = topology.remote_store(remote).name
                await self._put(store)
            except Exception as error:  # noqa: BLE001 - that node is left out; the others do its share
                log.warning(
                    "job %d: not shared with %s, a node without the library (%s); the other nodes encode "
                    "its share",
                    self.job.id,
                    remote,
                    error or type(error).__name__,
                )
                self._left_out.add(remote)
                continue
            self.stores[remote] = store
            added.append(store)
        return added

    async def _put(self, store: str) -> None:
        if not await transfers.present(self.js, self.source_object, store=store):
            began = time.monotonic()
            size = await transfers.upload(
                self.js,
                self.source_object,
                self.job.original,
                limit=self.limit,
                description=self.node,
                store=store,
            )
            log.info(
                "job %d: source put in %s for a node without the library (%d bytes in %.1f s)",
                self.job.id,
                store,
                size,
                time.monotonic() - began,
            )
        await transfers.put_note(self.js, self.plan_object, self.plan_text, store=store)

    async def remove(self) -> None:
        """Every piece of the job out of every store it was shared with, and out of the stores of the live
        nodes it was not shared with (their hand-backs); what fails, or a node gone meanwhile keeps, expires
        there."""
        stores = set(self.stores.values())
        if self._hw is not None:
            stores |= {topology.remote_store(n).name for n in await live_remote_nodes(self.js, self._hw)}
        for store in sorted(stores):
            with contextlib.suppress(Exception):
                await transfers.remove_job(self.js, self.job.id, store=store)


async def live_remote_nodes(js: JetStreamContext, hw: str) -> list[str]:
    """The live nodes of class ``hw`` that see no library (their entries in the ``nodes`` bucket)."""
    found = []
    try:
        for _, value in await kv_entries.values(js, topology.NODES):
            status = msgspec.json.decode(value, type=NodeStatus)
            if not status.library and hw in status.classes:
                found.append(status.node)
    except Exception as error:  # noqa: BLE001 - unknown: the library's nodes still take the segments
        log.warning("could not read the nodes bucket for nodes without the library: %r", error)
    return found


class Entries:
    """The entries written to several transfer stores, as they come, in one queue: (store, entry)."""

    def __init__(self, js: JetStreamContext) -> None:
        self.js = js
        self.queue: asyncio.Queue[tuple[str, ObjectInfo]] = asyncio.Queue()
        self._subs: list[Subscription] = []

    async def follow(self, store: str) -> None:
        async def arrived(msg: Msg) -> None:
            self.queue.put_nowait((store, ObjectInfo.from_response(json.loads(msg.data))))

        sub = await self.js.subscribe(
            f"{transfers.entries(store)}>",
            stream=transfers.stream_of(store),
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
            cb=arrived,
        )
        self._subs.append(sub)

    async def next(self, timeout: float) -> tuple[str, ObjectInfo] | None:
        """The next entry; None when none came within ``timeout`` seconds."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None

    async def close(self) -> None:
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
