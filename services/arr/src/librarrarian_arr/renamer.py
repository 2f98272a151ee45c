"""Running a rename job (``work.rename``): the app is asked again what it would name the file (its scheme may
have changed since the scan), the scheduler for the commit, then the app to rename (``RenameFiles``), and its
command is waited for (bounded, heartbeating the work message meanwhile). The file must then be at its new
name on disk; the outcome goes back as ``job.rename_finished``, and ``arr.file_renamed`` lets the catalogue and
the jobs follow the file.

An app that cannot be reached is no failure of the job: it is reported ``unavailable`` and the scheduler
tries again later, as long as it takes. A refusal the app will repeat fails the job with the reason.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass

from librarrarian_contracts import (
    FileRenamed,
    JobFailed,
    JobStarted,
    RenameFile,
    RenameFinished,
    publish,
    report_id,
    topology,
)
from librarrarian_contracts.views import CommitDecision, CommitRequest
from librarrarian_runtime.queries import ask
from nats.aio.client import Client
from nats.aio.msg import Msg

from . import apps
from .client import ArrError, ArrUnreachable
from .connections import Connections, NotSetUp

log = logging.getLogger(__name__)


@dataclass
class Renamer:
    nc: Client
    connections: Connections
    node: str
    command_timeout_seconds: float

    async def handle(self, request: RenameFile, msg: Msg) -> None:
        delivery = msg.metadata.num_delivered
        js = self.nc.jetstream()
        await publish(
            js,
            JobStarted(
                event_id=report_id(JobStarted, request.job_id, request.attempt, delivery),
                job_id=request.job_id,
                attempt=request.attempt,
                delivery=delivery,
                node=self.node,
                path=request.path,
            ),
        )
        try:
            new_path = await self._rename(request, msg, delivery)
        except ArrError as error:
            unreachable = isinstance(error, ArrUnreachable)
            log.warning("job %d: %s%s", request.job_id, error, "; trying again later" if unreachable else "")
            await self._failed(request, delivery, str(error), unavailable=unreachable)
            return
        except NotSetUp as error:
            await self._failed(request, delivery, str(error), retryable=False)
            return
        if new_path is None:
            return  # another delivery holds the commit
        renamed = new_path != request.path
        if renamed:
            await publish(
                js, FileRenamed(app=request.app, path=request.path, new_path=new_path, job_id=request.job_id)
            )
        await publish(
            js,
            RenameFinished(
                event_id=report_id(RenameFinished, request.job_id, request.attempt),
                job_id=request.job_id,
                attempt=request.attempt,
                node=self.node,
                path=request.path,
                new_path=new_path,
                renamed=renamed,
                reason="" if renamed else self._why_not,
                delivery=delivery,
            ),
        )

    _why_not = "the app no longer renames it (renamed meanwhile, or its naming scheme changed)"

    async def _rename(self, request: RenameFile, msg: Msg, delivery: int) -> str | None:
        """The file's name after the rename (its old one when the app no longer renames it); None when the
        commit went to another delivery."""
        settings, client = await self.connections.open(request.app)
        preview = await client.rename_preview(request.item_id)
        entry = next((e for e in preview if e.get(client.api.file_id) == request.file_id), None)
        target: str | None = None
        if entry is not None and isinstance(entry.get("newPath"), str):
            items = {i["id"]: i for i in await client.items()}
            folder = str((items.get(request.item_id) or {}).get("path") or "")
            local = self.connections.local(settings, apps.join(folder, entry["newPath"]))
            target = str(local) if local is not None else None
        decision = await ask(
            self.nc,
            topology.SCHEDULER_COMMIT,
            CommitRequest(job_id=request.job_id, attempt=request.attempt, delivery=delivery, node=self.node),
            CommitDecision,
        )
        if not decision.granted:
            log.warning("job %d: commit denied (%s); not renaming", request.job_id, decision.reason)
            return None
        if target is None:
            return request.path
        await client.run_command(
            client.api.rename_files(request.item_id, [request.file_id]),
            self.command_timeout_seconds,
            heartbeat=msg.in_progress,
        )
        if not await asyncio.to_thread(_moved, request.path, target):
            raise ArrError("", f"{client.shown} says it renamed {request.path}, but it is not at {target}")
        log.info("job %d: %s renamed %s to %s", request.job_id, client.api.name, request.path, target)
        return target

    async def _failed(
        self,
        request: RenameFile,
        delivery: int,
        reason: str,
        *,
        retryable: bool = True,
        unavailable: bool = False,
    ) -> None:
        await publish(
            self.nc.jetstream(),
            JobFailed(
                event_id=report_id(JobFailed, request.job_id, request.attempt),
                job_id=request.job_id,
                attempt=request.attempt,
                node=self.node,
                path=request.path,
                reason=reason,
                retryable=retryable,
                unavailable=unavailable,
                delivery=delivery,
            ),
        )


def _moved(old: str, new: str) -> bool:
    """Whether the file is at its new name, and no longer at its old one."""
    return os.path.exists(new) and not os.path.exists(old)
