"""What the gateway shows, read from the bus: node and progress KV entries, and the services' queries.
Both the REST API and the pages use these functions; the live updates follow the same buckets in
``live/feed.py``. A service's refusal is raised as its ``librarrarian_runtime.errors`` class."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TypeVar

import msgspec
from librarrarian_contracts import StartScan, publish, topology
from librarrarian_contracts.backups import STATUS_KEY as BACKUP_STATUS_KEY
from librarrarian_contracts.backups import BackupStatus
from librarrarian_contracts.settings import QUEUE_KEY, QueueControl
from librarrarian_contracts.views import (
    Charts,
    ChartsQuery,
    HistoryEntry,
    HistoryLookup,
    HistoryPage,
    HistoryQuery,
    JobProgress,
    JobsPage,
    JobsQuery,
    JobView,
    NodeStatus,
    Nothing,
    RecycleList,
    ReleasedJobs,
    ReleaseJobs,
    Restored,
    RestoreRequest,
    Stats,
)
from librarrarian_runtime import kv_entries
from librarrarian_runtime.errors import NotFound
from librarrarian_runtime.queries import ask
from nats.aio.client import Client
from nats.js.errors import KeyNotFoundError

T = TypeVar("T")


@dataclass(frozen=True)
class NodeView:
    key: str  # its key in the nodes bucket
    status: NodeStatus
    progress: tuple[JobProgress, ...]


class Backend:
    def __init__(self, nc: Client) -> None:
        self.nc = nc
        self.js = nc.jetstream()

    async def setting(self, key: str, type_: type[T], default: T) -> T:
        """A value of the ``settings`` bucket, or ``default`` while nobody has set it."""
        kv = await self.js.key_value(topology.SETTINGS.name)
        try:
            entry = await kv.get(key)
        except KeyNotFoundError:
            return default
        return msgspec.json.decode(entry.value, type=type_) if entry.value else default

    async def backup_status(self) -> BackupStatus | None:
        """The last backup's outcome (the ``status`` key of the ``backups`` bucket); None: none was made yet."""
        kv = await self.js.key_value(topology.BACKUP_STATUS.name)
        try:
            entry = await kv.get(BACKUP_STATUS_KEY)
        except KeyNotFoundError:
            return None
        return msgspec.json.decode(entry.value, type=BackupStatus) if entry.value else None

    async def queue_paused(self) -> bool:
        return (await self.setting(QUEUE_KEY, QueueControl, QueueControl())).paused

    async def nodes(self) -> list[NodeView]:
        progress_kv = await self.js.key_value(topology.PROGRESS.name)
        views = []
        for key, value in await kv_entries.values(self.js, topology.NODES):
            status = msgspec.json.decode(value, type=NodeStatus)
            progress = []
            for job_id in status.jobs:
                with contextlib.suppress(KeyNotFoundError):
                    running = (await progress_kv.get(str(job_id))).value
                    if running:
                        progress.append(msgspec.json.decode(running, type=JobProgress))
            views.append(NodeView(key, status, tuple(progress)))
        return views

    async def jobs(self, query: JobsQuery) -> JobsPage:
        return await ask(self.nc, topology.SCHEDULER_JOBS_QUERY, query, JobsPage)

    async def job(self, job_id: int) -> JobView:
        """One job: the newest of those with a smaller id than the next one, which is this one if it exists."""
        page = await self.jobs(JobsQuery(before_id=job_id + 1, limit=1))
        if not page.items or page.items[0].id != job_id:
            raise NotFound(f"there is no job {job_id}")
        return page.items[0]

    async def release(self, release: ReleaseJobs) -> ReleasedJobs:
        return await ask(self.nc, topology.SCHEDULER_RELEASE, release, ReleasedJobs)

    async def history(self, query: HistoryQuery) -> HistoryPage:
        return await ask(self.nc, topology.HISTORY_LIST, query, HistoryPage)

    async def history_entry(self, entry_id: int) -> HistoryEntry:
        return await ask(self.nc, topology.HISTORY_ENTRY, HistoryLookup(id=entry_id), HistoryEntry)

    async def recycled(self) -> RecycleList:
        return await ask(self.nc, topology.CLEANUP_RECYCLE_LIST, Nothing(), RecycleList)

    async def restore(self, job_id: int) -> Restored:
        return await ask(self.nc, topology.CLEANUP_RECYCLE_RESTORE, RestoreRequest(job_id=job_id), Restored)

    async def charts(self, days: int) -> Charts:
        return await ask(self.nc, topology.HISTORY_CHARTS, ChartsQuery(days=days), Charts)

    async def stats(self) -> tuple[Stats, dict[str, int]]:
        stats = await ask(self.nc, topology.HISTORY_STATS, Nothing(), Stats)
        counts = (await self.jobs(JobsQuery(limit=1))).counts
        return stats, counts

    async def request_scan(self, roots: tuple[str, ...], force: bool) -> StartScan:
        command = StartScan(roots=roots, force=force)
        await publish(self.js, command)
        return command
