"""One scan: walk, skip what is unchanged, probe the rest in a small pool, publish what was found.

``Scanner.scan`` is the one entry point: the timer, ``scan.requested`` commands, the end-to-end tests and
(later) the file watcher all call it; a lock keeps to one scan at a time.
"""

from __future__ import annotations

import asyncio
import logging
import stat
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import asyncpg
from librarrarian_contracts import FileIdentity, MediaProbed, MediaProbeFailed, ScanCompleted, publish
from librarrarian_media import ProbeError
from librarrarian_runtime.media_paths import OutsideMediaPaths, contain
from nats.js import JetStreamContext

from . import catalogue
from .catalogue import Outcome
from .probe import Prober
from .walk import Found, is_candidate, is_locked, library_of, walk

log = logging.getLogger(__name__)

# Files probed, published and recorded together: one round of acks and one database write per batch.
BATCH = 64


class RefusedRoot(ValueError):
    """A scan was asked for outside the media paths, or of something that is not a directory."""


class Scanner:
    def __init__(
        self, pool: asyncpg.Pool, js: JetStreamContext, media_paths: tuple[Path, ...], prober: Prober
    ) -> None:
        self.pool = pool
        self.js = js
        self.media_paths = media_paths
        self.prober = prober
        self._one_scan = asyncio.Lock()

    def check_roots(self, roots: Iterable[str | Path]) -> tuple[Path, ...]:
        """Resolved roots inside the media paths (none: all of them), without ones nested in others.

        A media path that is missing (an unmounted disk) stays in a scan of everything: the walk reports
        it unreadable, so its files are kept, not forgotten. A root asked for by name must exist.
        """
        try:
            resolved = [contain(root, self.media_paths) for root in roots]
        except OutsideMediaPaths as error:
            raise RefusedRoot(str(error)) from None
        missing = [str(r) for r in resolved if not r.is_dir()]
        if missing:
            raise RefusedRoot(f"not a directory: {', '.join(missing)}")
        kept: list[Path] = []
        for root in sorted(set(resolved or self.media_paths), key=lambda r: len(r.parts)):
            if not any(root.is_relative_to(k) for k in kept):
                kept.append(root)
        return tuple(kept)

    async def scan(self, roots: Iterable[str | Path] = (), force: bool = False) -> ScanCompleted:
        """Scan ``roots`` (default: every media path); ``force`` re-probes unchanged files too.

        Raises ``RefusedRoot`` before doing anything if a root is not a directory inside the media paths.
        """
        chosen = self.check_roots(roots)
        async with self._one_scan:
            return await self._scan(chosen, force)

    async def _scan(self, roots: tuple[Path, ...], force: bool) -> ScanCompleted:
        started = time.monotonic()
        scan_id = uuid.uuid4().hex
        name = scan_id[:8]
        log.info("scan %s started: %s%s", name, ", ".join(map(str, roots)), " (force)" if force else "")
        unreadable: list[Path] = []

        def on_unreadable(directory: Path, error: OSError) -> None:
            unreadable.append(directory)
            log.warning("scan %s: cannot list %s: %s", name, directory, error.strerror or error)

        def on_escape(path: Path) -> None:
            log.info("scan %s: skipping %s: it leads outside the media paths", name, path)

        found = await asyncio.to_thread(lambda: list(walk(roots, self.media_paths, on_unreadable, on_escape)))
        catalogued = await catalogue.known(self.pool, roots)
        todo = [
            f for f in found if force or catalogued.get(str(f.path)) != catalogue.identity_key(f.identity)
        ]
        changed = {f.path for f in todo}
        await catalogue.seen(self.pool, [str(f.path) for f in found if f.path not in changed])
        failed = await self._probe_all(todo)

        # What could not be listed is unknown, not gone: an unmounted disk must not empty the catalogue.
        present = {str(f.path) for f in found}
        gone = [
            p
            for p in catalogued
            if p not in present and not any(Path(p).is_relative_to(d) for d in unreadable)
        ]
        await catalogue.forget(self.pool, gone)
        completed = ScanCompleted(
            scan_id=scan_id,
            roots=tuple(map(str, roots)),
            seen=len(found),
            probed=len(todo),
            unchanged=len(found) - len(todo),
            failed=failed,
            elapsed_seconds=round(time.monotonic() - started, 3),
        )
        await publish(self.js, completed)
        log.info(
            "scan %s done: %d seen, %d probed, %d unchanged, %d failed, %d gone in %.1f s",
            name,
            completed.seen,
            completed.probed,
            completed.unchanged,
            completed.failed,
            len(gone),
            completed.elapsed_seconds,
        )
        return completed

    async def scan_files(self, paths: Iterable[Path]) -> ScanCompleted:
        """Look at just these files (the watcher's finds): probe the ones that are new or changed."""
        async with self._one_scan:
            started = time.monotonic()
            found = await asyncio.to_thread(self._found, list(paths))
            catalogued = await catalogue.known(self.pool, tuple(f.path for f in found))
            todo = [f for f in found if catalogued.get(str(f.path)) != catalogue.identity_key(f.identity)]
            failed = await self._probe_all(todo)
            completed = ScanCompleted(
                scan_id=uuid.uuid4().hex,
                roots=tuple(str(f.path) for f in found),
                seen=len(found),
                probed=len(todo),
                unchanged=len(found) - len(todo),
                failed=failed,
                elapsed_seconds=round(time.monotonic() - started, 3),
            )
            await publish(self.js, completed)
            if todo:
                log.info("watch: %d new or changed file(s) probed, %d failed", len(todo), failed)
            return completed

    def _found(self, paths: list[Path]) -> list[Found]:
        """The videos among ``paths`` that exist, resolve inside the media paths and are not locked."""
        found = []
        for path in paths:
            try:
                resolved = contain(path, self.media_paths)
                st = resolved.stat()
                names = {p.name for p in resolved.parent.iterdir()}
            except (OutsideMediaPaths, OSError):
                continue
            if (
                not stat.S_ISREG(st.st_mode)
                or not is_candidate(resolved.name)
                or is_locked(names, resolved.name)
            ):
                continue
            identity = FileIdentity(size=st.st_size, mtime_ns=st.st_mtime_ns, inode=st.st_ino)
            found.append(Found(resolved, library_of(resolved, self.media_paths), identity))
        return found

    async def _probe_all(self, todo: list[Found]) -> int:
        """Probe ``todo`` in batches, publish each batch's events at once, then record the batch; return the
        failures. Records follow the publishes: a crash in between means a re-probe, never a lost event."""
        failures = 0
        for start in range(0, len(todo), BATCH):
            outcomes = await self._probe_batch(todo[start : start + BATCH])
            await asyncio.gather(*(publish(self.js, event_of(outcome)) for outcome in outcomes))
            await catalogue.record_many(self.pool, outcomes)
            failures += sum(1 for outcome in outcomes if outcome.probe is None)
        return failures

    async def _probe_batch(self, batch: list[Found]) -> list[Outcome]:
        """Probe a batch with as many workers as the prober has slots."""
        pending = iter(batch)
        outcomes: dict[Path, Outcome] = {}

        async def worker() -> None:
            for found in pending:  # shared: each worker takes the next file
                try:
                    outcomes[found.path] = Outcome(found, await self.prober.probe(found.path), None)
                except ProbeError as problem:
                    log.warning("%s: %s", found.path, problem)
                    outcomes[found.path] = Outcome(found, None, str(problem))

        async with asyncio.TaskGroup() as workers:
            for _ in range(min(self.prober.workers, len(batch))):
                workers.create_task(worker())
        return [outcomes[found.path] for found in batch]


def event_of(outcome: Outcome) -> MediaProbed | MediaProbeFailed:
    found = outcome.found
    path, library = str(found.path), str(found.library)
    if outcome.probe is not None:
        return MediaProbed(path=path, identity=found.identity, probe=outcome.probe, library=library)
    return MediaProbeFailed(path=path, identity=found.identity, error=outcome.error or "", library=library)
