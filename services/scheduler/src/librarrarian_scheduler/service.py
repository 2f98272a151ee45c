"""The scheduler process: consumers of ``media.*`` and ``job.*``, the outbox relay, the query endpoints."""

from __future__ import annotations

import asyncio
import json
import logging
from importlib.metadata import version

from librarrarian_contracts import provision, topology
from librarrarian_contracts.codec import cleanup_decoder, job_decoder, media_decoder
from librarrarian_contracts.settings import TRANSCODE_KEY, TranscodeSettings
from librarrarian_runtime import bus, consumer, lifecycle, migrations
from librarrarian_runtime.watched import Watched
from nats import micro
from nats.aio.msg import Msg

from . import approval, endpoints, removal
from .intake import Intake
from .placement import Placement
from .progress import JobTracker
from .rebalance import Rebalancer
from .reconcile import Reconciler
from .relay import Relay
from .settings import Settings

log = logging.getLogger(__name__)


async def run(settings: Settings, stopping: asyncio.Event | None = None) -> None:
    stopping = stopping or lifecycle.stop_event()
    nc = await bus.connect(settings.nats_url, "scheduler")
    js = nc.jetstream()
    await provision(js)
    pool = await migrations.connect_and_migrate(
        settings.database_url, "scheduler", "librarrarian_scheduler.migrations", min_size=2, max_size=8
    )
    relay = Relay(pool, js, settings.database_url)
    kv = await js.key_value(topology.SETTINGS.name)
    transcode = await Watched(kv, TRANSCODE_KEY, TranscodeSettings, TranscodeSettings()).start()
    placement = Placement(await js.key_value(topology.NODES.name))
    await placement.start()
    intake = Intake(pool, transcode, placement, relay.wake)
    tracker = JobTracker(
        pool,
        settings.max_attempts,
        settings.retry_delay_seconds,
        relay.wake,
        lambda: placement.choose(transcode.value),
    )

    service = await micro.add_service(
        nc,
        name=topology.SCHEDULER_SERVICE,
        version=version("librarrarian-scheduler"),
        description="jobs of record, commit fencing",
    )
    await service.add_endpoint(
        name="commit", subject=topology.SCHEDULER_COMMIT, handler=endpoints.handler(pool, "commit")
    )
    await service.add_endpoint(
        name="jobs", subject=topology.SCHEDULER_JOBS_QUERY, handler=endpoints.handler(pool, "jobs")
    )
    await service.add_endpoint(
        name="retry", subject=topology.SCHEDULER_RETRY, handler=endpoints.action_handler(tracker.retry)
    )
    await service.add_endpoint(
        name="delete",
        subject=topology.SCHEDULER_DELETE,
        handler=endpoints.action_handler(lambda job_id: removal.delete_job(pool, js, job_id)),
    )
    await service.add_endpoint(
        name="clear", subject=topology.SCHEDULER_CLEAR, handler=removal.clear_handler(pool, js)
    )
    await service.add_endpoint(
        name="release",
        subject=topology.SCHEDULER_RELEASE,
        handler=approval.release_handler(pool, relay.wake.set),
    )

    async def on_advisory(msg: Msg) -> None:
        seq = json.loads(msg.data).get("stream_seq")
        deliveries = json.loads(msg.data).get("deliveries", 0)
        msg_id = await pool.fetchval("SELECT msg_id FROM outbox WHERE stream_seq = $1", seq)
        if msg_id:
            await tracker.deliveries_exhausted(msg_id, int(deliveries))

    advisories = [
        await nc.subscribe(topology.max_deliveries_advisory(spec.durable), cb=on_advisory)
        for spec in (*topology.WORK_CONSUMERS.values(), topology.CLEANUP_WORK)
    ]
    log.info("scheduler ready (new work goes to %s)", placement.choose(transcode.value))
    try:
        async with asyncio.TaskGroup() as tasks:
            following = tasks.create_task(placement.follow())
            rebalancer = Rebalancer(pool, js, placement, transcode, relay.wake, settings.orphan_seconds)
            tasks.create_task(rebalancer.run(stopping))
            tasks.create_task(Reconciler(pool, js, settings.reconcile_grace_seconds).run(stopping))
            tasks.create_task(relay.run(stopping))
            tasks.create_task(
                consumer.consume(js, topology.SCHEDULER_MEDIA, media_decoder, intake.handle, stopping)
            )
            tasks.create_task(
                consumer.consume(js, topology.SCHEDULER_JOBS, job_decoder, tracker.handle, stopping)
            )
            cleanup_intake = approval.CleanupIntake(pool)
            tasks.create_task(
                consumer.consume(
                    js, topology.SCHEDULER_CLEANUP, cleanup_decoder, cleanup_intake.handle, stopping
                )
            )
            await stopping.wait()
            following.cancel()
    finally:
        await placement.stop()
        await transcode.stop()
        for sub in advisories:
            await sub.unsubscribe()
        await service.stop()
        await nc.drain()
        await pool.close()
        log.info("scheduler stopped")
