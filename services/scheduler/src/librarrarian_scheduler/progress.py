"""Following a job through its attempts as the workers report (``job.*``), and a user's retry of a failed
job. Every change of the record is published (``store.record_change``) in the transaction that made it.
An outcome counts only from whom :mod:`fencing` says may report it; any other is ignored and logged."""

from __future__ import annotations

import logging
from collections.abc import Callable

import asyncpg
from librarrarian_contracts import (
    CleanupFinished,
    JobChange,
    JobCompleted,
    JobFailed,
    JobReport,
    JobSkipped,
    JobStarted,
    RenameFinished,
    ReviewRequested,
)
from librarrarian_contracts.views import ActionResult
from librarrarian_runtime.errors import BadRequest, Conflict, NotFound

from . import fencing, review, store

log = logging.getLogger(__name__)

# An attempt's report counts only while the job is in flight with that attempt.
CURRENT = "id = $1 AND attempts = $2 AND status IN ('pending', 'running')"
# The longest wait between two tries of a job whose worker could not reach what it needs (an Arr app down).
MAX_UNAVAILABLE_DELAY_SECONDS = 3600.0


class JobTracker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        max_attempts: Callable[[], int],  # the setting now: a change applies to the next failure
        retry_delay_seconds: float,
        on_enqueue: Callable[[], None],
        choose_class: Callable[[], str] | None = None,
    ) -> None:
        self.choose_class = choose_class or (lambda: "cpu")  # a retry goes where the live nodes are now
        self.pool = pool
        self.max_attempts = max_attempts
        self.retry_delay_seconds = retry_delay_seconds
        self.on_enqueue = on_enqueue

    async def handle(self, report: JobReport) -> None:
        requeued = False
        async with self.pool.acquire() as conn, conn.transaction():
            record = await _record(conn, report)
            why = None if record is None else fencing.refusal(report, record)
            if why is not None:
                # Not claimed: the holder's own report, under the same event id, must still count.
                log.warning(
                    "job %d: ignoring %s from %s: %s",
                    report.job_id,
                    report.__struct_config__.tag,
                    fencing.of(report),
                    why,
                )
                return
            if not await store.claim(conn, report.event_id):
                return
            match report:
                case JobStarted():
                    await self._started(conn, report)
                case JobCompleted():
                    await self._completed(conn, report)
                case JobSkipped():
                    await _change(
                        conn,
                        JobChange.SKIPPED,
                        "UPDATE jobs SET status = 'skipped', node = $3, reason = $4, retry_at = NULL,"
                        f" finished_at = now(), updated_at = now() WHERE {CURRENT} RETURNING id",
                        report.job_id,
                        report.attempt,
                        report.node,
                        report.reason,
                    )
                case CleanupFinished():
                    await self._cleaned(conn, report)
                case RenameFinished():
                    await self._renamed(conn, report)
                case JobFailed():
                    requeued = await self._failed(conn, report)
                case ReviewRequested():
                    await review.kept(conn, report)
            if isinstance(report, JobCompleted | JobSkipped):
                # A reviewed output was decided on: its previews have served.
                await conn.execute("DELETE FROM previews WHERE job_id = $1", report.job_id)
        if requeued:
            self.on_enqueue()

    async def _started(self, conn: asyncpg.Connection, report: JobStarted) -> None:
        await _change(
            conn,
            JobChange.RUNNING,
            "UPDATE jobs SET status = 'running', node = $3, run_delivery = $4,"
            " started_at = coalesce(started_at, now()), retry_at = NULL, updated_at = now()"
            f" WHERE {CURRENT} RETURNING id",
            report.job_id,
            report.attempt,
            report.node,
            report.delivery,
        )

    async def _completed(self, conn: asyncpg.Connection, report: JobCompleted) -> None:
        # From a holder of the commit (fencing), a completion is a fact about the file whatever the attempt
        # is now: the original was replaced.
        await _change(
            conn,
            JobChange.DONE,
            "UPDATE jobs SET status = 'done', node = $2, output_path = $3, size_after = $4,"
            " reason = $5, retry_at = NULL, finished_at = now(), updated_at = now()"
            " WHERE id = $1 AND status <> 'done' RETURNING id",
            report.job_id,
            report.node,
            report.output_path,
            report.size_after,
            # What the output lost or left (Dolby Vision dropped, links replaced): the done job's reason.
            "; ".join(report.notes) or None,
        )

    async def _cleaned(self, conn: asyncpg.Connection, report: CleanupFinished) -> None:
        """A stale file removed (done) or kept because it changed since it was found (skipped)."""
        changed = await conn.fetchval(
            "UPDATE jobs SET status = $3, node = $4, reason = $5, size_after = $6, finished_at = now(),"
            f" updated_at = now() WHERE {CURRENT} RETURNING id",
            report.job_id,
            report.attempt,
            "done" if report.removed else "skipped",
            report.node,
            report.reason or None,
            0 if report.removed else None,
        )
        if not changed:
            return
        await store.record_change(
            conn, report.job_id, JobChange.DONE if report.removed else JobChange.SKIPPED
        )

    async def _renamed(self, conn: asyncpg.Connection, report: RenameFinished) -> None:
        """The app renamed the file (done, its new name kept), or no longer would (skipped, with the reason)."""
        changed = await conn.fetchval(
            "UPDATE jobs SET status = $3, node = $4, reason = $5, output_path = $6, finished_at = now(),"
            f" updated_at = now() WHERE {CURRENT} RETURNING id",
            report.job_id,
            report.attempt,
            "done" if report.renamed else "skipped",
            report.node,
            report.reason or None,
            report.new_path if report.renamed else None,
        )
        if not changed:
            return
        await store.record_change(
            conn, report.job_id, JobChange.DONE if report.renamed else JobChange.SKIPPED
        )
        if report.renamed:
            log.info("job %d: %s renamed to %s", report.job_id, report.path, report.new_path)
        else:
            log.info("job %d: %s not renamed: %s", report.job_id, report.path, report.reason)

    async def _failed(self, conn: asyncpg.Connection, report: JobFailed) -> bool:
        attempts = await conn.fetchval(
            f"SELECT attempts FROM jobs WHERE {CURRENT} FOR UPDATE", report.job_id, report.attempt
        )
        if attempts is None:
            return False  # a stale attempt, or the job already ended
        if report.unavailable or (report.retryable and attempts < self.max_attempts()):
            # An unreachable Arr app is no fault of the job: it waits as long as it takes, tried again less
            # and less often.
            delay = min(self.retry_delay_seconds * 2 ** min(attempts - 1, 20), MAX_UNAVAILABLE_DELAY_SECONDS)
            if not report.unavailable:
                delay = self.retry_delay_seconds * 2 ** (attempts - 1)
            await conn.execute(
                "UPDATE jobs SET status = 'pending', attempts = attempts + 1, reason = $2, error_log = $3,"
                " node = NULL, retry_at = now() + make_interval(secs => $4), updated_at = now() WHERE id = $1",
                report.job_id,
                report.reason,
                report.detail,
                delay,
            )
            await store.enqueue(conn, report.job_id, delay_seconds=delay, hw_class=self.choose_class())
            await store.record_change(conn, report.job_id, JobChange.RETRY_SCHEDULED, node=report.node)
            return True
        if await review.refused(conn, report):
            return False
        await conn.execute(
            "UPDATE jobs SET status = 'failed', reason = $2, error_log = $3, retry_at = NULL,"
            " finished_at = now(), updated_at = now() WHERE id = $1",
            report.job_id,
            report.reason,
            report.detail,
        )
        await store.record_change(conn, report.job_id, JobChange.FAILED)
        return False

    async def retry(self, job_id: int) -> ActionResult:
        """A user retries a failed job: a new attempt, queued now, with its error log kept until it ends."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT status, kind <> 'transcode' OR probe IS NOT NULL AS workable FROM jobs WHERE id = $1"
                " FOR UPDATE",
                job_id,
            )
            if row is None:
                raise NotFound(f"there is no job {job_id}")
            if row["status"] != "failed":
                raise Conflict(f"job {job_id} is {row['status']}, not failed")
            if not row["workable"]:  # a transcode needs the file's probe
                raise BadRequest("the file could not be read; scan it again instead")
            try:
                async with conn.transaction():
                    await conn.execute(
                        "UPDATE jobs SET status = 'pending', attempts = attempts + 1, node = NULL,"
                        " retry_at = NULL, finished_at = NULL, updated_at = now() WHERE id = $1",
                        job_id,
                    )
            except asyncpg.UniqueViolationError:
                raise Conflict("another job for this file is in flight") from None
            await store.enqueue(conn, job_id, hw_class=self.choose_class())
            await store.record_change(conn, job_id, JobChange.QUEUED)
        self.on_enqueue()
        return ActionResult(detail="queued again")

    async def deliveries_exhausted(self, msg_id: str, deliveries: int) -> None:
        """JetStream gave up redelivering a work message: its encoders kept dying on it."""
        job_id, _, attempt = msg_id.partition("@")[0].partition(":")
        async with self.pool.acquire() as conn, conn.transaction():
            await _change(
                conn,
                JobChange.FAILED,
                "UPDATE jobs SET status = 'failed', reason = $3, retry_at = NULL, finished_at = now(),"
                f" updated_at = now() WHERE {CURRENT} RETURNING id",
                int(job_id),
                int(attempt),
                f"the encoder stopped {deliveries} times while working on it (crash or lost node)",
            )
        log.error(
            "job %s attempt %s failed: delivered %d times without an outcome", job_id, attempt, deliveries
        )


async def _record(conn: asyncpg.Connection, report: JobReport) -> fencing.Record | None:
    """The job as :mod:`fencing` needs it (locked until the report is handled), or None when there is none."""
    row = await conn.fetchrow(
        "SELECT status, attempts, node, run_delivery, commit_attempt, commit_delivery, commit_node,"
        "       EXISTS (SELECT 1 FROM commits c WHERE c.job_id = j.id AND c.attempt = $2"
        "               AND c.delivery = $3 AND c.node = $4) AS granted"
        " FROM jobs j WHERE id = $1 FOR UPDATE",
        report.job_id,
        report.attempt,
        report.delivery,
        report.node,
    )
    if row is None:
        return None
    holder = (
        fencing.Delivery(row["commit_attempt"], row["commit_delivery"], row["commit_node"])
        if row["commit_attempt"] is not None
        else None
    )
    # A run recorded before the scheduler knew deliveries names none: its reports are taken as before.
    runner = (
        fencing.Delivery(row["attempts"], row["run_delivery"], row["node"])
        if row["run_delivery"] is not None
        else None
    )
    return fencing.Record(status=row["status"], holder=holder, runner=runner, granted=row["granted"])


async def _change(
    conn: asyncpg.Connection, change: JobChange, update: str, job_id: int, *args: object
) -> bool:
    """Run ``update`` (``$1`` is the job, it returns the job's id when it changed a row) and publish the
    change when it did; False when the report no longer applies."""
    if await conn.fetchval(update, job_id, *args) is None:
        return False
    await store.record_change(conn, job_id, change)
    return True
