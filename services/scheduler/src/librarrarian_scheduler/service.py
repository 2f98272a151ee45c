"""The scheduler process: consumers of ``media.*``, ``job.*`` and ``cleanup.*``, the outbox relay, the
rebalancer and reconciler, and the request/reply endpoints."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from importlib.metadata import version

import asyncpg
from librarrarian_contracts import require, topology
from librarrarian_contracts.catalog import Role
from librarrarian_contracts.codec import arr_decoder, cleanup_decoder, job_decoder, media_decoder
from librarrarian_contracts.settings import (
    FOLDERS_KEY,
    ORDER_KEY,
    RETRIES_KEY,
    TRANSCODE_KEY,
    QueueOrder,
    RetrySettings,
    ScannerFolders,
    TranscodeSettings,
)
from librarrarian_contracts.views import (
    ActionResult,
    ClearPending,
    CommitRequest,
    JobAction,
    JobsQuery,
    MoveJob,
    Nothing,
    PreviewQuery,
    ReleaseJobs,
    ReviewJobs,
)
from librarrarian_runtime import bus, consumer, lifecycle, migrations
from librarrarian_runtime.endpoints import Endpoint, serve
from librarrarian_runtime.watched import Watched
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from . import approval, endpoints, ordering, removal, review
from .arr_intake import ArrIntake
from .intake import BATCH as INTAKE_BATCH
from .intake import Intake
from .placement import Placement
from .progress import JobTracker
from .rebalance import Rebalancer
from .reconcile import Reconciler
from .relay import Relay
from .settings import Settings

log = logging.getLogger(__name__)


def answers(
    pool: asyncpg.Pool,
    js: JetStreamContext,
    tracker: JobTracker,
    wake: asyncio.Event,
    choose_class: Callable[[], str] | None = None,
) -> list[Endpoint]:
    return [
        Endpoint("commit", topology.SCHEDULER_COMMIT, CommitRequest, lambda r: endpoints.commit(pool, r)),
        Endpoint("jobs", topology.SCHEDULER_JOBS_QUERY, JobsQuery, lambda q: endpoints.jobs(pool, q)),
        Endpoint("metrics", topology.SCHEDULER_METRICS, Nothing, lambda _: endpoints.metrics(pool)),
        Endpoint("retry", topology.SCHEDULER_RETRY, JobAction, lambda a: tracker.retry(a.job_id)),
        Endpoint(
            "delete", topology.SCHEDULER_DELETE, JobAction, lambda a: removal.delete_job(pool, js, a.job_id)
        ),
        Endpoint("move", topology.SCHEDULER_MOVE, MoveJob, lambda m: _moved(pool, m, wake)),
        Endpoint(
            "clear", topology.SCHEDULER_CLEAR, ClearPending, lambda q: removal.clear_pending(pool, js, q)
        ),
        Endpoint(
            "release",
            topology.SCHEDULER_RELEASE,
            ReleaseJobs,
            lambda r: approval.release(pool, r, wake.set, choose_class),
        ),
        Endpoint(
            "review",
            topology.SCHEDULER_REVIEW,
            ReviewJobs,
            lambda r: review.decide(pool, r, wake.set, choose_class),
        ),
        Endpoint("preview", topology.SCHEDULER_PREVIEW, PreviewQuery, lambda q: review.preview(pool, q)),
    ]


async def _moved(pool: asyncpg.Pool, request: MoveJob, wake: asyncio.Event) -> ActionResult:
    result = await ordering.move(pool, request)
    wake.set()  # the relay releases in the new order from now on
    return result


async def run(settings: Settings, stopping: asyncio.Event | None = None) -> None:
    stopping = stopping or lifecycle.stop_event()
    async with bus.connection(settings.nats_url, "scheduler", stopping) as nc:
        js = nc.jetstream()
        await require(js, Role.SCHEDULER)
        pool = await migrations.connect_and_migrate(
            settings.database_url, "scheduler", "librarrarian_scheduler.migrations", min_size=2, max_size=8
        )
        try:
            await _serve(settings, stopping, nc, js, pool)
        finally:
            await pool.close()
    log.info("scheduler stopped")


async def _serve(
    settings: Settings, stopping: asyncio.Event, nc: Client, js: JetStreamContext, pool: asyncpg.Pool
) -> None:
    folders = await Watched(js, FOLDERS_KEY, ScannerFolders, ScannerFolders()).start()
    order = await Watched(js, ORDER_KEY, QueueOrder, QueueOrder()).start()
    relay = Relay(pool, js, settings.database_url, lambda: order.value, lambda: folders.value.folders)
    transcode = await Watched(js, TRANSCODE_KEY, TranscodeSettings, TranscodeSettings()).start()
    seed = RetrySettings(max_attempts=settings.max_attempts)
    retries = await Watched(js, RETRIES_KEY, RetrySettings, RetrySettings(), seed=seed).start()
    placement = Placement(js)
    await placement.start()
    intake = Intake(pool, transcode, placement, relay.wake.set, folders)
    tracker = JobTracker(
        pool,
        lambda: retries.value.max_attempts,
        settings.retry_delay_seconds,
        relay.wake.set,
        lambda: placement.choose(transcode.value),
    )
    service = await serve(
        nc,
        name=topology.SCHEDULER_SERVICE,
        version=version("librarrarian-scheduler"),
        description="jobs of record, commit fencing",
        endpoints=answers(pool, js, tracker, relay.wake, lambda: placement.choose(transcode.value)),
    )

    async def on_advisory(msg: Msg) -> None:
        advisory = json.loads(msg.data)
        msg_id = await pool.fetchval(
            "SELECT msg_id FROM outbox WHERE stream_seq = $1 AND job_id IS NOT NULL",
            advisory.get("stream_seq"),
        )
        if msg_id:
            await tracker.deliveries_exhausted(msg_id, int(advisory.get("deliveries", 0)))

    advisories = [
        await nc.subscribe(topology.max_deliveries_advisory(spec), cb=on_advisory)
        for spec in (*topology.WORK_CONSUMERS.values(), topology.CLEANUP_WORK, topology.ARR_WORK)
    ]
    log.info("scheduler ready (new work goes to %s)", placement.choose(transcode.value))
    try:
        async with asyncio.TaskGroup() as tasks:
            rebalancer = Rebalancer(pool, js, placement, transcode, relay.wake.set, settings.orphan_seconds)
            tasks.create_task(rebalancer.run(stopping))
            tasks.create_task(Reconciler(pool, js, settings.reconcile_grace_seconds).run(stopping))
            tasks.create_task(relay.run(stopping))
            tasks.create_task(
                consumer.consume_batches(
                    js,
                    topology.SCHEDULER_MEDIA,
                    media_decoder,
                    intake.handle_batch,
                    intake.handle,
                    stopping,
                    batch=INTAKE_BATCH,
                )
            )
            tasks.create_task(
                consumer.consume(js, topology.SCHEDULER_JOBS, job_decoder, tracker.handle, stopping)
            )
            arr_intake = ArrIntake(pool, js, relay.wake.set)
            tasks.create_task(
                consumer.consume(js, topology.SCHEDULER_ARR, arr_decoder, arr_intake.handle, stopping)
            )
            cleanup_intake = approval.CleanupIntake(pool)
            tasks.create_task(
                consumer.consume(
                    js, topology.SCHEDULER_CLEANUP, cleanup_decoder, cleanup_intake.handle, stopping
                )
            )
    finally:
        await placement.stop()
        await transcode.stop()
        await retries.stop()
        await folders.stop()
        await order.stop()
        for sub in advisories:
            await sub.unsubscribe()
        await service.stop()
