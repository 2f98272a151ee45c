"""The scheduler process: consumers of ``media.*`` and ``job.*``, the outbox relay, the query endpoints."""

from __future__ import annotations

import asyncio
import json
import logging
from importlib.metadata import version

from librarrarian_contracts import provision, topology
from librarrarian_contracts.codec import job_decoder, media_decoder
from librarrarian_runtime import bus, consumer, lifecycle, migrations
from nats import micro
from nats.aio.msg import Msg

from . import endpoints
from .intake import Intake
from .progress import JobTracker
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
    intake = Intake(pool, settings.hw_class, relay.wake)
    tracker = JobTracker(pool, settings.max_attempts, settings.retry_delay_seconds, relay.wake)

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

    async def on_advisory(msg: Msg) -> None:
        seq = json.loads(msg.data).get("stream_seq")
        deliveries = json.loads(msg.data).get("deliveries", 0)
        msg_id = await pool.fetchval("SELECT msg_id FROM outbox WHERE stream_seq = $1", seq)
        if msg_id:
            await tracker.deliveries_exhausted(msg_id, int(deliveries))

    advisories = [
        await nc.subscribe(topology.max_deliveries_advisory(spec.durable), cb=on_advisory)
        for spec in topology.WORK_CONSUMERS.values()
    ]
    log.info("scheduler ready (work goes to %s)", topology.transcode_subject(settings.hw_class))
    try:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(relay.run(stopping))
            tasks.create_task(
                consumer.consume(js, topology.SCHEDULER_MEDIA, media_decoder, intake.handle, stopping)
            )
            tasks.create_task(
                consumer.consume(js, topology.SCHEDULER_JOBS, job_decoder, tracker.handle, stopping)
            )
    finally:
        for sub in advisories:
            await sub.unsubscribe()
        await service.stop()
        await nc.drain()
        await pool.close()
        log.info("scheduler stopped")
