"""The scanner process: scans on start, on a timer and on ``scan.requested`` commands, and watches the
media folders for new files."""

from __future__ import annotations

import asyncio
import logging

from librarrarian_contracts import provision
from librarrarian_runtime import bus, lifecycle, migrations

from . import commands
from .probe import Prober
from .scan import Scanner
from .settings import Settings
from .watch import Watcher

log = logging.getLogger(__name__)


async def run(settings: Settings, stopping: asyncio.Event | None = None) -> None:
    if stopping is None:
        stopping = lifecycle.stop_event()
    nc = await bus.connect(settings.nats_url, "scanner")
    try:
        js = nc.jetstream()
        await provision(js)
        pool = await migrations.connect_and_migrate(
            settings.database_url, "scanner", "librarrarian_scanner.migrations"
        )
        try:
            prober = Prober(settings.probe_workers, settings.probe_timeout_seconds)
            scanner = Scanner(pool, js, settings.media_paths, prober)
            log.info(
                "scanner ready: %s (%d probe workers)",
                ", ".join(map(str, settings.media_paths)),
                prober.workers,
            )
            async with asyncio.TaskGroup() as tasks:
                timer = tasks.create_task(_scan_on_schedule(scanner, settings, stopping))
                tasks.create_task(commands.consume(js, scanner, stopping))
                if settings.watch:
                    watcher = Watcher(scanner, settings.media_paths, settings.watch_settle_seconds)
                    tasks.create_task(watcher.run(stopping))
                await stopping.wait()
                timer.cancel()  # a scheduled scan in flight is abandoned; the next start does it again
        finally:
            await pool.close()
    finally:
        await nc.drain()
        log.info("scanner stopped")


async def _scan_on_schedule(scanner: Scanner, settings: Settings, stopping: asyncio.Event) -> None:
    if settings.scan_on_start:
        await _scheduled_scan(scanner)
    if settings.scan_interval_seconds <= 0:
        return
    while not await lifecycle.wait_or_stop(stopping, settings.scan_interval_seconds):
        await _scheduled_scan(scanner)


async def _scheduled_scan(scanner: Scanner) -> None:
    try:
        await scanner.scan()
    except Exception:  # the timer's outermost edge: a failed scan must not stop the next ones
        log.exception("scheduled scan failed; trying again at the next interval")
