"""One scan: walk, skip what is unchanged, probe the rest in a small pool, publish what was found."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from pathlib import Path

import asyncpg
from librarrarian_contracts import MediaProbed, MediaProbeFailed, ScanCompleted, publish
from librarrarian_media import ProbeError, probe
from nats.js import JetStreamContext

from . import catalogue
from .walk import Found, walk

log = logging.getLogger(__name__)


class Scanner:
    def __init__(
        self,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        media_paths: tuple[Path, ...],
        probe_workers: int = 2,
        probe_timeout_seconds: float = 30.0,
    ) -> None:
        self.pool = pool
        self.js = js
        self.media_paths = media_paths
        self.probe_timeout = probe_timeout_seconds
        self._probes = asyncio.Semaphore(probe_workers)
        self._one_scan = asyncio.Lock()  # one scan at a time

    async def scan(self, roots: tuple[Path, ...] = (), force: bool = False) -> ScanCompleted:
        roots = roots or self.media_paths
        async with self._one_scan:
            return await self._scan(roots, force)

    async def _scan(self, roots: tuple[Path, ...], force: bool) -> ScanCompleted:
        started = time.monotonic()
        scan_id = uuid.uuid4().hex
        log.info(
            "scan %s started: %s%s", scan_id[:8], ", ".join(map(str, roots)), " (force)" if force else ""
        )
        found = await asyncio.to_thread(lambda: list(walk(roots, self.media_paths)))
        catalogued: dict[str, tuple[int, int, int]] = {}
        for library in {f.library for f in found} | {r for r in roots if r in self.media_paths}:
            catalogued |= await catalogue.known(self.pool, library)
        todo = [
            f
            for f in found
            if force
            or catalogued.get(str(f.path)) != (f.identity.size, f.identity.mtime_ns, f.identity.inode)
        ]
        results = await asyncio.gather(*(self._probe_and_publish(f) for f in todo))
        seen = {str(f.path) for f in found}
        gone = [p for p in catalogued if p not in seen and any(Path(p).is_relative_to(r) for r in roots)]
        await catalogue.forget(self.pool, gone)
        completed = ScanCompleted(
            scan_id=scan_id,
            roots=tuple(map(str, roots)),
            seen=len(found),
            probed=len(todo),
            unchanged=len(found) - len(todo),
            failed=results.count(False),
            elapsed_seconds=round(time.monotonic() - started, 3),
        )
        await publish(self.js, completed)
        log.info(
            "scan %s done: %d seen, %d probed, %d unchanged, %d failed in %.1f s",
            scan_id[:8],
            completed.seen,
            completed.probed,
            completed.unchanged,
            completed.failed,
            completed.elapsed_seconds,
        )
        return completed

    async def _probe_and_publish(self, found: Found) -> bool:
        async with self._probes:
            try:
                result = await asyncio.wait_for(asyncio.to_thread(probe, found.path), self.probe_timeout)
                error = None
            except ProbeError as problem:
                result, error = None, str(problem)
            except TimeoutError:
                # The thread cannot be interrupted; it finishes on its own, the scan goes on.
                result, error = None, f"probe timed out after {self.probe_timeout:.0f} s"
        library = str(found.library)
        if result is not None:
            await publish(
                self.js,
                MediaProbed(path=str(found.path), identity=found.identity, probe=result, library=library),
            )
        else:
            assert error is not None
            log.warning("%s: %s", found.path, error)
            await publish(
                self.js,
                MediaProbeFailed(path=str(found.path), identity=found.identity, error=error, library=library),
            )
        # Recorded only after the event is out: a crash in between means a re-probe, never a lost event.
        await catalogue.record(self.pool, found.path, found.library, found.identity, result, error)
        return result is not None
