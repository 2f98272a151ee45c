"""The scanner process: scans on start, on a timer and on ``scan.start`` commands (cancellable by
``scan.cancel``), and watches the media folders for new files. The library folders come from the
``scanner.folders`` setting, and how often to scan from ``scanner.timing`` (seeded with
``SCAN_INTERVAL_SECONDS`` at first start), both followed live. It also syncs the files Plex and Jellyfin know,
answers their set-up requests, tells them when a file was replaced and asks them who is watching (see
``playback``), and follows what the Arr apps did to files."""

from __future__ import annotations

import asyncio
import logging

from librarrarian_contracts import require, topology
from librarrarian_contracts.catalog import Role
from librarrarian_contracts.settings import (
    FOLDERS_KEY,
    SCANNER_TIMING_KEY,
    STREAMING_KEY,
    ScannerFolders,
    ScannerTiming,
    StreamingSettings,
)
from librarrarian_runtime import bus, cadence, lifecycle, migrations, outbound
from librarrarian_runtime.cadence import Cadence
from librarrarian_runtime.watched import Watched

from . import commands
from .arr_files import ArrFiles
from .playback import PlaybackWatch
from .probe import Prober
from .scan import Scanner
from .settings import Settings
from .source_endpoints import SourceEndpoints
from .source_refresh import Refresher
from .source_store import SourceStore
from .source_sync import SourceSync
from .watch import Watcher

log = logging.getLogger(__name__)


async def run(settings: Settings, stopping: asyncio.Event | None = None) -> None:
    if stopping is None:
        stopping = lifecycle.stop_event()
    async with bus.connection(settings.nats_url, "scanner", stopping) as nc:
        js = nc.jetstream()
        await require(js, Role.SCANNER)
        pool = await migrations.connect_and_migrate(
            settings.database_url, "scanner", "librarrarian_scanner.migrations"
        )
        http = outbound.client(settings.private_servers, settings.source_timeout_seconds)
        try:
            prober = Prober(settings.probe_workers, settings.probe_timeout_seconds)
            scanner = Scanner(pool, js, settings.media_paths, prober, settings.watch_settle_seconds)
            folders = await Watched(js, FOLDERS_KEY, ScannerFolders, ScannerFolders()).start()
            scanner.use_folders(folders.value)
            folders.on_change(scanner.use_folders)
            seed = ScannerTiming(scan_interval_seconds=settings.scan_interval_seconds)
            timing = await Watched(js, SCANNER_TIMING_KEY, ScannerTiming, ScannerTiming(), seed=seed).start()
            scan_interval = Cadence(timing.value.scan_interval_seconds)
            sync_interval = Cadence(timing.value.scan_interval_seconds)
            timing.on_change(lambda value: _follow_timing(value, scan_interval, sync_interval))
            cancels = await commands.follow_cancels(nc, scanner)
            store = SourceStore(pool)
            timeout = settings.source_timeout_seconds
            allowed = settings.private_servers
            source_sync = SourceSync(scanner, store, http, settings.media_paths, timeout, allowed)
            endpoints = SourceEndpoints(store, source_sync, http, settings.plex_tv_url, timeout, allowed)
            refresher = Refresher(store, http, settings.media_paths, timeout, allowed)
            answering = await endpoints.start(nc)
            streaming = await Watched(js, STREAMING_KEY, StreamingSettings, StreamingSettings()).start()
            playback = PlaybackWatch(
                store,
                http,
                await js.key_value(topology.PLAYBACK.name),
                streaming,
                settings.playback_poll_seconds,
            )
            log.info(
                "scanner ready: %s (%d probe workers)",
                ", ".join(map(str, settings.media_paths)),
                prober.workers,
            )
            async with asyncio.TaskGroup() as tasks:
                timer = tasks.create_task(
                    cadence.every(
                        stopping,
                        scan_interval,
                        scanner.scan,
                        what="scheduled scan",
                        at_start=settings.scan_on_start,
                    )
                )
                tasks.create_task(commands.consume(js, scanner, stopping))
                if settings.watch:
                    watcher = Watcher(scanner, settings.media_paths, settings.watch_settle_seconds)
                    tasks.create_task(watcher.run(stopping))
                tasks.create_task(refresher.consume(js, stopping))
                tasks.create_task(ArrFiles(scanner).consume(js, stopping))
                source_timer = tasks.create_task(source_sync.run_on_schedule(sync_interval, stopping))
                tasks.create_task(playback.run(stopping))
                await stopping.wait()
                timer.cancel()  # a scheduled scan in flight is abandoned; the next start does it again
                source_timer.cancel()
                await answering.stop()
                await endpoints.stop()
                await cancels.unsubscribe()
                await folders.stop()
                await timing.stop()
                await streaming.stop()
        finally:
            await http.aclose()
            await pool.close()
    log.info("scanner stopped")


def _follow_timing(timing: ScannerTiming, *intervals: Cadence) -> None:
    log.info("scanner: scanning every %.0f s (0: only when asked)", timing.scan_interval_seconds)
    for interval in intervals:
        interval.set(timing.scan_interval_seconds)
