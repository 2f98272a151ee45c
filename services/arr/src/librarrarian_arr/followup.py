"""After a transcode (``job.completed``): the app that owns the file rescans its series, movie or artist, so
it records the new codec and size (and does not grab the file again); with the app's auto-rename, the file is
then renamed to its scheme (a ``rename`` job, queued at once).

The owner is found by the app's own records: the series, movie or artist whose folder holds the file, our
path mapped to the app's through its path mappings; never by guessing from the name. A completion is first
written down for every enabled app (a follow-up), then worked off: an app that cannot be reached is tried
again, less and less often, for as long as it takes. The transcode itself is done either way.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from librarrarian_contracts import JobCompleted, RenameWanted, publish
from librarrarian_contracts.messages import JobReport
from nats.js import JetStreamContext

from . import apps
from .client import ArrError, ArrUnreachable
from .connections import Connections, NotSetUp
from .store import FollowUp

log = logging.getLogger(__name__)

# A refusal other than being unreachable (a 500, a 401) is tried this often before it is given up on.
MAX_REFUSED_TRIES = 5


@dataclass
class FollowUps:
    connections: Connections
    js: JetStreamContext
    command_timeout_seconds: float
    retry_seconds: float
    max_retry_seconds: float
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, report: JobReport) -> None:
        if not isinstance(report, JobCompleted):
            return  # the durable asks for job.completed only
        added = [
            app
            for app, _, _ in await self.connections.enabled()
            if await self.connections.store.add_follow_up(report.job_id, app, report.output_path)
        ]
        if added:
            self.wake.set()

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            self.wake.clear()
            for follow_up in await self.connections.store.due_follow_ups():
                await self.once(follow_up)
            wait = await self.connections.store.next_follow_up_in()
            waiter = asyncio.ensure_future(self.wake.wait())
            stopper = asyncio.ensure_future(stopping.wait())
            try:
                await asyncio.wait(
                    {waiter, stopper},
                    timeout=self.max_retry_seconds if wait is None else wait,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                waiter.cancel()
                stopper.cancel()

    async def once(self, follow_up: FollowUp) -> None:
        store = self.connections.store
        try:
            outcome = await self._tell(follow_up)
        except NotSetUp as error:
            await store.follow_up_done(follow_up, f"not told: {error}")
            return
        except ArrError as error:
            if not isinstance(error, ArrUnreachable) and follow_up.attempts + 1 >= MAX_REFUSED_TRIES:
                await store.follow_up_done(follow_up, f"given up: {error}")
                log.error("job %d: %s", follow_up.job_id, error)
                return
            delay = min(self.retry_seconds * 2**follow_up.attempts, self.max_retry_seconds)
            await store.follow_up_later(follow_up, str(error), delay)
            log.warning("job %d: %s; trying again in %.0f s", follow_up.job_id, error, delay)
            return
        await store.follow_up_done(follow_up, outcome)
        log.info("job %d: %s", follow_up.job_id, outcome)

    async def _tell(self, follow_up: FollowUp) -> str:
        settings, client = await self.connections.open(follow_up.app)
        app_path = self.connections.remote(settings, follow_up.path)
        owner = apps.owner_of(app_path, await client.items())
        if owner is None:
            return f"no {client.api.items} of {client.api.name} holds {app_path}"
        title = str(owner.get(client.api.title) or owner["id"])
        await client.run_command(client.api.rescan(owner["id"], owner["path"]), self.command_timeout_seconds)
        outcome = f"{client.api.name} rescanned {title}"
        if not settings.auto_rename:
            return outcome
        for entry in await client.rename_preview(owner["id"]):
            existing, new, file_id = (
                entry.get("existingPath"),
                entry.get("newPath"),
                entry.get(client.api.file_id),
            )
            if not (isinstance(existing, str) and isinstance(new, str) and isinstance(file_id, int)):
                continue
            if apps.join(owner["path"], existing) != app_path:
                continue
            new_path = self.connections.local(settings, apps.join(owner["path"], new))
            if new_path is None:
                return f"{outcome}; its new name lies outside the media paths"
            await publish(
                self.js,
                RenameWanted(
                    app=follow_up.app,
                    path=follow_up.path,
                    new_path=str(new_path),
                    item_id=owner["id"],
                    file_id=file_id,
                    title=title,
                    approval=False,
                ),
            )
            return f"{outcome}; rename to {new_path} queued"
        return f"{outcome}; its name already fits the scheme"
