"""The history process: records finished transcodes from ``job.*``, follows the files the Arr apps rename
(``arr.file_renamed``), and answers history and stats queries."""

from __future__ import annotations

import asyncio
import logging
from importlib.metadata import version

import asyncpg
from librarrarian_contracts import FileRenamed, JobReport, require, topology
from librarrarian_contracts.catalog import Role
from librarrarian_contracts.codec import arr_decoder, job_decoder
from librarrarian_contracts.messages import ArrEvent
from librarrarian_contracts.views import (
    ChartsQuery,
    HistoryEntry,
    HistoryLookup,
    HistoryQuery,
    Nothing,
    Stats,
)
from librarrarian_runtime import bus, consumer, lifecycle, migrations
from librarrarian_runtime.endpoints import Endpoint, serve
from librarrarian_runtime.errors import NotFound

from . import charts, records
from .settings import Settings

log = logging.getLogger(__name__)


def endpoints(pool: asyncpg.Pool) -> list[Endpoint]:
    async def entry(lookup: HistoryLookup) -> HistoryEntry:
        found = await records.entry(pool, lookup.id)
        if found is None:
            raise NotFound(f"there is no history entry {lookup.id}")
        return found

    async def stats(_: Nothing) -> Stats:
        return await records.stats(pool)

    return [
        Endpoint("list", topology.HISTORY_LIST, HistoryQuery, lambda query: records.page(pool, query)),
        Endpoint("stats", topology.HISTORY_STATS, Nothing, stats),
        Endpoint("entry", topology.HISTORY_ENTRY, HistoryLookup, entry),
        Endpoint("charts", topology.HISTORY_CHARTS, ChartsQuery, lambda query: charts.charts(pool, query)),
    ]


async def run(settings: Settings, stopping: asyncio.Event | None = None) -> None:
    stopping = stopping or lifecycle.stop_event()
    async with bus.connection(settings.nats_url, "history", stopping) as nc:
        js = nc.jetstream()
        await require(js, Role.HISTORY)
        pool = await migrations.connect_and_migrate(
            settings.database_url, "history", "librarrarian_history.migrations"
        )
        try:
            service = await serve(
                nc,
                name=topology.HISTORY_SERVICE,
                version=version("librarrarian-history"),
                description="transcode history and statistics",
                endpoints=endpoints(pool),
            )
            log.info("history ready")

            async def on_report(report: JobReport) -> None:
                await records.record(pool, report)

            async def on_arr(event: ArrEvent) -> None:
                if isinstance(event, FileRenamed) and await records.renamed(pool, event):
                    log.info(
                        "%s renamed %s to %s: its history follows it", event.app, event.path, event.new_path
                    )

            try:
                async with asyncio.TaskGroup() as consuming:
                    consuming.create_task(
                        consumer.consume(js, topology.HISTORY_JOBS, job_decoder, on_report, stopping)
                    )
                    consuming.create_task(
                        consumer.consume(js, topology.HISTORY_RENAMES, arr_decoder, on_arr, stopping)
                    )
            finally:
                await service.stop()
        finally:
            await pool.close()
    log.info("history stopped")
