"""The scanner process: scans on start, on a timer and on ``scan.requested`` commands."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from librarrarian_contracts import ScanRequested, provision, topology
from librarrarian_contracts.codec import control_decoder
from librarrarian_runtime import bus, consumer, lifecycle, migrations
from librarrarian_runtime.media_paths import OutsideMediaPaths, contain

from .scan import Scanner
from .settings import Settings

log = logging.getLogger(__name__)


class RefusedRoot(ValueError):
    """A scan was asked for outside the media paths."""


def roots_of(command: ScanRequested, media_paths: tuple[Path, ...]) -> tuple[Path, ...]:
    try:
        roots = tuple(contain(root, media_paths) for root in command.roots)
    except OutsideMediaPaths as error:
        raise RefusedRoot(str(error)) from None
    missing = [str(r) for r in roots if not r.is_dir()]
    if missing:
        raise RefusedRoot(f"not a directory: {', '.join(missing)}")
    return roots


async def run(settings: Settings, stopping: asyncio.Event | None = None) -> None:
    stopping = stopping or lifecycle.stop_event()
    nc = await bus.connect(settings.nats_url, "scanner")
    js = nc.jetstream()
    await provision(js)
    pool = await migrations.connect_and_migrate(
        settings.database_url, "scanner", "librarrarian_scanner.migrations"
    )
    scanner = Scanner(pool, js, settings.media_paths, settings.probe_workers, settings.probe_timeout_seconds)

    async def on_command(command: ScanRequested) -> None:
        try:
            roots = roots_of(command, settings.media_paths)
        except RefusedRoot as error:
            log.error("scan request refused: %s", error)
            return
        await scanner.scan(roots, command.force)

    async def periodic() -> None:
        if settings.scan_on_start:
            await scanner.scan()
        if settings.scan_interval_seconds <= 0:
            return
        while not await lifecycle.wait_or_stop(stopping, settings.scan_interval_seconds):
            await scanner.scan()

    log.info("scanner ready: %s", ", ".join(map(str, settings.media_paths)))
    try:
        async with asyncio.TaskGroup() as tasks:
            timer = tasks.create_task(periodic())
            tasks.create_task(
                consumer.consume(js, topology.SCANNER_CONTROL, control_decoder, on_command, stopping, batch=1)
            )
            await stopping.wait()
            timer.cancel()
    finally:
        await nc.drain()
        await pool.close()
        log.info("scanner stopped")
