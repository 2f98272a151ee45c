"""The recycle folders, as the cleanup service serves them: the kept originals and the space they hold
(``cleanup.recycle.list``), one put back under its name (``cleanup.recycle.restore``), and the ones older
than the ``cleanup`` setting's ``recycle_days`` removed every hour. The file operations, and why they never
lose a file, are ``librarrarian_runtime.recycle``'s."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from librarrarian_contracts import topology
from librarrarian_contracts.settings import CleanupSettings
from librarrarian_contracts.views import Nothing, RecycledOriginal, RecycleList, Restored, RestoreRequest
from librarrarian_runtime import cadence, recycle
from librarrarian_runtime.cadence import Cadence
from librarrarian_runtime.endpoints import Endpoint
from librarrarian_runtime.errors import Conflict, NotFound
from librarrarian_runtime.watched import Watched

from .settings import HOUR

log = logging.getLogger(__name__)


class Recycling:
    def __init__(self, roots: tuple[Path, ...], chosen: Watched[CleanupSettings]) -> None:
        self.roots, self.chosen = roots, chosen
        self._one_restore = asyncio.Lock()

    @property
    def days(self) -> float:
        return self.chosen.value.recycle_days

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("recycle-list", topology.CLEANUP_RECYCLE_LIST, Nothing, self.originals),
            Endpoint("recycle-restore", topology.CLEANUP_RECYCLE_RESTORE, RestoreRequest, self.restore),
        ]

    async def originals(self, _: Nothing) -> RecycleList:
        def gather() -> RecycleList:
            kept = sorted(recycle.entries(self.roots), key=lambda e: -e.record.recycled_at)
            return RecycleList(
                originals=tuple(
                    RecycledOriginal(
                        job_id=e.record.job_id,
                        path=e.record.path,
                        kept_as=str(e.root / recycle.FOLDER / e.name),
                        size=e.size,
                        recycled_at=e.record.recycled_at,
                        expires_at=e.record.recycled_at + self.days * recycle.DAY,
                    )
                    for e in kept
                ),
                bytes_held=recycle.held(self.roots),
                days=self.days,
            )

        return await asyncio.to_thread(gather)

    async def restore(self, request: RestoreRequest) -> Restored:
        """One at a time: two clicks on the same entry must not race each other."""
        async with self._one_restore:
            try:
                entry = await asyncio.to_thread(recycle.find, self.roots, request.job_id)
            except recycle.Refused as error:
                raise NotFound(str(error)) from None
            try:
                record = await asyncio.to_thread(recycle.restore, entry.root, entry.name)
            except (recycle.Refused, recycle.Unavailable) as error:
                raise Conflict(str(error)) from None
        log.info("job %d: restored the original %s from the recycle folder", record.job_id, record.path)
        return Restored(job_id=record.job_id, path=record.path)

    async def expire(self) -> list[str]:
        removed = await asyncio.to_thread(recycle.expire, self.roots, self.days, time.time())
        if removed:
            log.info("recycle folders: %d files older than %g days removed", len(removed), self.days)
        return removed

    async def on_interval(self, stopping: asyncio.Event) -> None:
        await cadence.every(
            stopping, Cadence(HOUR), self.expire, what="emptying the recycle folders", at_start=True
        )
