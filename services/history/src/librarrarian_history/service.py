"""The history process: records finished transcodes from ``job.*`` and answers history and stats queries."""

from __future__ import annotations

import asyncio
import logging
from importlib.metadata import version

import msgspec
from librarrarian_contracts import provision, topology
from librarrarian_contracts.codec import job_decoder
from librarrarian_contracts.views import ChartsQuery, HistoryLookup, HistoryQuery
from librarrarian_runtime import bus, consumer, lifecycle, migrations
from librarrarian_runtime.queries import answer
from nats import micro
from nats.micro.request import Request

from . import charts, records
from .settings import Settings

log = logging.getLogger(__name__)


async def run(settings: Settings, stopping: asyncio.Event | None = None) -> None:
    stopping = stopping or lifecycle.stop_event()
    nc = await bus.connect(settings.nats_url, "history")
    js = nc.jetstream()
    await provision(js)
    pool = await migrations.connect_and_migrate(
        settings.database_url, "history", "librarrarian_history.migrations"
    )

    async def on_list(request: Request) -> None:
        try:
            reply = await records.page(pool, msgspec.json.decode(request.data or b"{}", type=HistoryQuery))
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as error:
            await request.respond_error("400", str(error))
            return
        await request.respond(answer(reply))

    async def on_stats(request: Request) -> None:
        await request.respond(answer(await records.stats(pool)))

    async def on_entry(request: Request) -> None:
        try:
            lookup = msgspec.json.decode(request.data, type=HistoryLookup)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            await request.respond_error("400", str(error))
            return
        found = await records.entry(pool, lookup.id)
        if found is None:
            await request.respond_error("404", f"there is no history entry {lookup.id}")
            return
        await request.respond(answer(found))

    async def on_charts(request: Request) -> None:
        try:
            reply = await charts.charts(pool, msgspec.json.decode(request.data or b"{}", type=ChartsQuery))
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as error:
            await request.respond_error("400", str(error))
            return
        await request.respond(answer(reply))

    service = await micro.add_service(
        nc,
        name=topology.HISTORY_SERVICE,
        version=version("librarrarian-history"),
        description="transcode history and statistics",
    )
    await service.add_endpoint(name="list", subject=topology.HISTORY_LIST, handler=on_list)
    await service.add_endpoint(name="stats", subject=topology.HISTORY_STATS, handler=on_stats)
    await service.add_endpoint(name="entry", subject=topology.HISTORY_ENTRY, handler=on_entry)
    await service.add_endpoint(name="charts", subject=topology.HISTORY_CHARTS, handler=on_charts)
    log.info("history ready")

    async def on_event(event: object) -> None:
        await records.record(pool, event)  # type: ignore[arg-type]

    try:
        await consumer.consume(js, topology.HISTORY_JOBS, job_decoder, on_event, stopping)
    finally:
        await service.stop()
        await nc.drain()
        await pool.close()
        log.info("history stopped")
