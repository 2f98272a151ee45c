"""Asking the scheduler for the right to touch a job's original (architecture §3.3)."""

from __future__ import annotations

import asyncio
import logging

from librarrarian_contracts import topology
from librarrarian_contracts.views import CommitDecision, CommitRequest
from librarrarian_runtime.errors import ServiceError, Unavailable
from librarrarian_runtime.queries import ask as ask_once
from nats.aio.client import Client

from .job import Job

log = logging.getLogger(__name__)

# How long the commit is asked for while the scheduler does not answer, and how often (the job's lease is
# kept meanwhile).
COMMIT_ASK_SECONDS = 30.0
COMMIT_RETRY_SECONDS = 1.0


async def take_over(nc: Client, job: Job) -> CommitDecision | ServiceError:
    """A later delivery that ends its job before starting it (the file gone or changed) asks for the commit
    first: an earlier delivery, presumed dead, may hold it or have started the attempt, and only the holder's
    (or the starter's) report counts. Granted, this one's does, and the job does not stay running."""
    request = CommitRequest(job_id=job.id, attempt=job.request.attempt, delivery=job.delivery, node=job.node)
    try:
        return await ask(nc, request)
    except ServiceError as error:
        return error


async def ask(nc: Client, request: CommitRequest) -> CommitDecision:
    """The scheduler's decision, asked again while nobody answers (for ``COMMIT_ASK_SECONDS``): a scheduler
    whose NATS server went away serves again once reconnected, a moment later. Asking again is harmless:
    the same delivery is granted the same commit again."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + COMMIT_ASK_SECONDS
    while True:
        try:
            return await ask_once(nc, topology.SCHEDULER_COMMIT, request, CommitDecision)
        except Unavailable:
            if loop.time() + COMMIT_RETRY_SECONDS > deadline:
                raise
            log.warning("job %d: the scheduler did not answer the commit; asking again", request.job_id)
        await asyncio.sleep(COMMIT_RETRY_SECONDS)
