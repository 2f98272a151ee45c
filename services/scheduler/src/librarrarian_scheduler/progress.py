"""Following a job through its attempts as the encoders report (``job.*`` events)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import asyncpg
from librarrarian_contracts import (
    CleanupFinished,
    JobCompleted,
    JobEvent,
    JobFailed,
    JobSkipped,
    JobStarted,
)
from librarrarian_contracts.views import ActionResult

from . import store

log = logging.getLogger(__name__)


class JobTracker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        max_attempts: int,
        retry_delay_seconds: float,
        on_enqueue: object,
        choose_class: Callable[[], str] | None = None,
    ) -> None:
        self.choose_class = choose_class or (lambda: "cpu")  # a retry goes where the live nodes are now
        self.pool = pool
        self.max_attempts = max_attempts
        self.retry_delay_seconds = retry_delay_seconds
        self.on_enqueue = on_enqueue

    async def handle(self, event: JobEvent) -> None:
        requeued = False
        async with self.pool.acquire() as conn, conn.transaction():
            if not await store.claim(conn, event.event_id):
                return
            match event:
                case JobStarted():
                    await conn.execute(
                        "UPDATE jobs SET status = 'running', node = $3, started_at = coalesce(started_at, now()),"
                        " updated_at = now() WHERE id = $1 AND attempts = $2 AND status IN ('pending', 'running')",
                        event.job_id,
                        event.attempt,
                        event.node,
                    )
                    log.info("job %d attempt %d started on %s", event.job_id, event.attempt, event.node)
                case JobCompleted():
                    # A completion is a fact about the file whatever the attempt: the original was replaced.
                    await conn.execute(
                        "UPDATE jobs SET status = 'done', node = $2, output_path = $3, size_after = $4,"
                        " reason = NULL, finished_at = now(), updated_at = now()"
                        " WHERE id = $1 AND status <> 'done'",
                        event.job_id,
                        event.node,
                        event.output_path,
                        event.size_after,
                    )
                    log.info("job %d done on %s: %s", event.job_id, event.node, event.output_path)
                case JobSkipped():
                    await conn.execute(
                        "UPDATE jobs SET status = 'skipped', node = $3, reason = $4, finished_at = now(),"
                        " updated_at = now() WHERE id = $1 AND attempts = $2 AND status IN ('pending', 'running')",
                        event.job_id,
                        event.attempt,
                        event.node,
                        event.reason,
                    )
                    log.info("job %d skipped on %s: %s", event.job_id, event.node, event.reason)
                case CleanupFinished():
                    await self._cleaned(conn, event)
                case JobFailed():
                    requeued = await self._failed(conn, event)
        if requeued:
            self.on_enqueue.set()  # type: ignore[attr-defined]

    async def _cleaned(self, conn: asyncpg.Connection, event: CleanupFinished) -> None:
        """A stale file removed (done) or kept because it changed since it was found (skipped)."""
        await conn.execute(
            "UPDATE jobs SET status = $3, node = $4, reason = $5, size_after = $6, finished_at = now(),"
            " updated_at = now() WHERE id = $1 AND attempts = $2 AND status IN ('pending', 'running')",
            event.job_id,
            event.attempt,
            "done" if event.removed else "skipped",
            event.node,
            event.reason or None,
            0 if event.removed else None,
        )
        if event.removed:
            log.info("job %d: %s removed by %s", event.job_id, event.path, event.node)
        else:
            log.info("job %d: %s kept by %s: %s", event.job_id, event.path, event.node, event.reason)

    async def _failed(self, conn: asyncpg.Connection, event: JobFailed) -> bool:
        attempts = await conn.fetchval(
            "SELECT attempts FROM jobs WHERE id = $1 AND attempts = $2 AND status IN ('pending', 'running')"
            " FOR UPDATE",
            event.job_id,
            event.attempt,
        )
        if attempts is None:
            return False  # a stale attempt, or the job already ended
        if event.retryable and attempts < self.max_attempts:
            delay = self.retry_delay_seconds * 2 ** (attempts - 1)
            await conn.execute(
                "UPDATE jobs SET status = 'pending', attempts = attempts + 1, reason = $2, error_log = $3,"
                " node = NULL, updated_at = now() WHERE id = $1",
                event.job_id,
                event.reason,
                event.detail,
            )
            await store.enqueue(conn, event.job_id, delay_seconds=delay, hw_class=self.choose_class())
            log.warning(
                "job %d attempt %d failed on %s (%s); retrying in %.0f s",
                event.job_id,
                attempts,
                event.node,
                event.reason,
                delay,
            )
            return True
        await conn.execute(
            "UPDATE jobs SET status = 'failed', reason = $2, error_log = $3, finished_at = now(), updated_at = now()"
            " WHERE id = $1",
            event.job_id,
            event.reason,
            event.detail,
        )
        log.error("job %d failed for good on %s: %s", event.job_id, event.node, event.reason)
        return False

    async def retry(self, job_id: int) -> ActionResult:
        """A user retries a failed job: a new attempt, queued now, with its error log kept until it ends."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT status, kind = 'cleanup' OR probe IS NOT NULL AS workable FROM jobs WHERE id = $1"
                " FOR UPDATE",
                job_id,
            )
            if row is None:
                return ActionResult(done=False, detail=f"there is no job {job_id}")
            if row["status"] != "failed":
                return ActionResult(done=False, detail=f"job {job_id} is {row['status']}, not failed")
            if not row["workable"]:  # a transcode needs the file's probe
                return ActionResult(done=False, detail="the file could not be read; scan it again instead")
            try:
                async with conn.transaction():
                    await conn.execute(
                        "UPDATE jobs SET status = 'pending', attempts = attempts + 1, node = NULL,"
                        " finished_at = NULL, updated_at = now() WHERE id = $1",
                        job_id,
                    )
            except asyncpg.UniqueViolationError:
                return ActionResult(done=False, detail="another job for this file is in flight")
            await store.enqueue(conn, job_id, hw_class=self.choose_class())
        self.on_enqueue.set()  # type: ignore[attr-defined]
        log.info("job %d retried by a user", job_id)
        return ActionResult(done=True, detail="queued again")

    async def deliveries_exhausted(self, msg_id: str, deliveries: int) -> None:
        """JetStream gave up redelivering a work message: its encoders kept dying on it."""
        job_id, _, attempt = msg_id.partition("@")[0].partition(":")
        await self.pool.execute(
            "UPDATE jobs SET status = 'failed', reason = $3, finished_at = now(), updated_at = now()"
            " WHERE id = $1 AND attempts = $2 AND status IN ('pending', 'running')",
            int(job_id),
            int(attempt),
            f"the encoder stopped {deliveries} times while working on it (crash or lost node)",
        )
        log.error(
            "job %s attempt %s failed: delivered %d times without an outcome", job_id, attempt, deliveries
        )
