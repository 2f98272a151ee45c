"""One scan: walk the library folders, skip what is unchanged, hold what is still being written, probe the
rest in a small pool, publish what was found.

``Scanner.scan`` is the one entry point for whole folders (the timer, ``scan.start`` commands, the
tests) and ``scan_files`` for single files (the watch, Plex and Jellyfin syncs); a lock keeps to one at a
time. Both report their progress in the ``scans`` bucket and stop early when cancelled: what they did not
reach is neither probed nor forgotten.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import asyncpg
from librarrarian_contracts import FileIdentity, ScanCompleted, publish
from librarrarian_contracts.enums import ScanTrigger
from librarrarian_contracts.settings import ScannerFolders
from librarrarian_runtime.media_paths import OutsideMediaPaths, contain
from librarrarian_runtime.scan_board import ScanBoard
from nats.js import JetStreamContext

from . import catalogue
from .batches import Batches
from .folders import Folders
from .index import Index
from .probe import Prober
from .progress import ScanRun
from .walk import LOCK_SUFFIX, Found, Identity, identity_key, is_candidate, is_locked, walk

log = logging.getLogger(__name__)


class RefusedRoot(ValueError):
    """A scan was asked for outside the media paths, or of something that is not a directory."""


class Scanner:
    def __init__(
        self,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        media_paths: tuple[Path, ...],
        prober: Prober,
        settle_seconds: float = 2.0,
    ) -> None:
        self.pool = pool
        self.js = js
        self.media_paths = media_paths
        self.prober = prober
        self.index = Index(pool)  # what the catalogue holds, in memory: a rescan compares against it
        self.batches = Batches(pool, js, prober, self.index)
        # A file modified less than this long ago may still be growing: it is probed only once it held still.
        self.settle_seconds = settle_seconds
        self.folders = Folders.resolve(ScannerFolders(), media_paths)
        self.board = ScanBoard(js)
        self.runs: dict[str, ScanRun] = {}  # scans running or waiting their turn, by id
        self._one_scan = asyncio.Lock()

    def use_folders(self, setting: ScannerFolders) -> None:
        """Apply a new ``scanner.folders`` setting; a scan in flight finishes with the folders it began with."""
        self.folders = Folders.resolve(setting, self.media_paths)
        shown = ", ".join(f"{f.path} ({f.type})" for f in self.folders.folders) or "none"
        log.info("library folders: %s", shown)

    def check_roots(self, roots: Iterable[str | Path]) -> tuple[Path, ...]:
        """Resolved roots inside the media paths (none: every scanned library folder), without ones nested
        in others.

        A folder that is missing (an unmounted disk) stays in a scan of everything: the walk reports it
        unreadable, so its files are kept, not forgotten. A root asked for by name must exist.
        """
        try:
            resolved = [contain(root, self.media_paths) for root in roots]
        except OutsideMediaPaths as error:
            raise RefusedRoot(str(error)) from None
        missing = [str(r) for r in resolved if not r.is_dir()]
        if missing:
            raise RefusedRoot(f"not a directory: {', '.join(missing)}")
        if not resolved:
            return self.folders.roots()
        kept: list[Path] = []
        for root in sorted(set(resolved), key=lambda r: len(r.parts)):
            if not any(root.is_relative_to(k) for k in kept):
                kept.append(root)
        return tuple(kept)

    def cancel(self, scan_id: str) -> bool:
        """Stop the scan ``scan_id`` if it runs (or waits) here; False if it does not."""
        run = self.runs.get(scan_id)
        if run is None:
            return False
        run.cancel()
        log.info("scan %s: cancel requested", scan_id[:8])
        return True

    async def scan(
        self,
        roots: Iterable[str | Path] = (),
        force: bool = False,
        *,
        scan_id: str | None = None,
        trigger: ScanTrigger = ScanTrigger.SCHEDULE,
    ) -> ScanCompleted:
        """Scan ``roots`` (default: every scanned library folder); ``force`` re-probes unchanged files too.

        Raises ``RefusedRoot`` before doing anything if a root is not a directory inside the media paths.
        """
        chosen = self.check_roots(roots)
        run = ScanRun(scan_id or uuid.uuid4().hex, trigger, tuple(map(str, chosen)), force)
        self.runs[run.scan_id] = run
        try:
            if scan_id is not None and await self.board.cancelled_while_queued(scan_id):
                run.cancel()
            await self.board.show(run)
            async with self._followed(run), self._one_scan:  # kept current while it waits its turn too
                completed = await self._scan(run, chosen, force)
            await publish(self.js, completed)  # last: whoever waits for it finds the entry final
            return completed
        finally:
            del self.runs[run.scan_id]

    @contextlib.asynccontextmanager
    async def _followed(self, run: ScanRun) -> AsyncIterator[None]:
        """``run``'s entry rewritten while the body runs, and once more when it ends: failed, if it raised."""
        ticker = asyncio.create_task(self.board.follow(run))
        try:
            yield
        except asyncio.CancelledError:
            run.finish("failed", "interrupted: the scanner stopped")
            raise
        except Exception as error:  # shown on the scan's entry, then handled by the caller
            run.finish("failed", str(error) or type(error).__name__)
            raise
        finally:
            ticker.cancel()
            await self.board.show(run)

    async def _scan(self, run: ScanRun, roots: tuple[Path, ...], force: bool) -> ScanCompleted:
        started = time.monotonic()
        name = run.scan_id[:8]
        folders = self.folders
        unreadable: list[Path] = []
        present: set[str] = set()  # every video found, changed or not

        def on_unreadable(directory: Path, error: OSError) -> None:
            unreadable.append(directory)
            log.warning("scan %s: cannot list %s: %s", name, directory, error.strerror or error)

        def on_escape(path: Path) -> None:
            log.info("scan %s: skipping %s: it leads outside the media paths", name, path)

        def counted(seen: int) -> None:
            run.seen = seen

        def walk_changed(known: dict[str, Identity] | None) -> list[Found]:
            return list(
                walk(
                    roots,
                    self.media_paths,
                    on_unreadable,
                    on_escape,
                    folders,
                    run.stop,
                    known=known,
                    present=present,
                    counted=counted,
                )
            )

        log.info("scan %s started: %s%s", name, ", ".join(map(str, roots)), " (force)" if force else "")
        todo: list[Found] = []
        changed: list[Found] = []
        failed = gone = 0
        index = await self.index.load()
        if not run.cancelled:
            run.state = "walking"
            # Unchanged files stay in the walk's thread: only the new and changed ones come out of it.
            changed = await asyncio.to_thread(walk_changed, None if force else index)
            run.seen = len(present)
        if not run.cancelled:
            todo = changed if force else await self._changed_in_catalogue(changed)
            run.to_probe = len(todo)
            run.probing()
            failed = await self._probe_settled(todo, run)
        if not run.cancelled:
            # What could not be listed is unknown, not gone: an unmounted disk must not empty the catalogue.
            missing = [
                p
                for p in self.index.under(roots)
                if p not in present and not any(Path(p).is_relative_to(d) for d in unreadable)
            ]
            await catalogue.forget(self.pool, missing)
            self.index.forgotten(missing)
            gone = len(missing)
        completed = ScanCompleted(
            scan_id=run.scan_id,
            roots=tuple(map(str, roots)),
            seen=len(present),
            probed=run.probed,
            unchanged=len(present) - len(todo),
            failed=failed,
            elapsed_seconds=round(time.monotonic() - started, 3),
            cancelled=run.cancelled,
        )
        run.finish("cancelled" if run.cancelled else "done")
        log.info(
            "scan %s %s: %d seen, %d probed, %d unchanged, %d held, %d failed, %d gone in %.1f s",
            name,
            run.state,
            completed.seen,
            completed.probed,
            completed.unchanged,
            run.held,
            completed.failed,
            gone,
            completed.elapsed_seconds,
        )
        return completed

    async def _changed_in_catalogue(self, changed: list[Found]) -> list[Found]:
        """The files among ``changed`` (by the index) that the catalogue too records otherwise, or not at
        all; the index learns the others (another replica's records)."""
        catalogued = await catalogue.identities(self.pool, [str(f.path) for f in changed])
        todo, same = [], []
        for f in changed:
            key = identity_key(f.identity)
            if catalogued.get(str(f.path)) == key:
                same.append((str(f.path), key))
            else:
                todo.append(f)
        self.index.recorded(same)
        return todo

    async def _probe_settled(self, todo: list[Found], run: ScanRun) -> int:
        """Probe ``todo``, the files changed so recently that they may still be growing last: by then they
        have had time to settle, and are probed only if they did. Returns the failures."""
        settle_ns = int(self.settle_seconds * 1e9)
        now = time.time_ns()
        young = [f for f in todo if now - f.identity.mtime_ns < settle_ns]
        failed = await self.batches.probe_all(
            [f for f in todo if now - f.identity.mtime_ns >= settle_ns], run
        )
        if not young or run.cancelled:
            return failed
        # mtimes from another machine's clock may lie ahead: wait no longer than the settle time itself.
        latest = max(f.identity.mtime_ns for f in young)
        await asyncio.sleep(min(self.settle_seconds, max(0.0, (latest + settle_ns - time.time_ns()) / 1e9)))
        settled = await asyncio.to_thread(_still_the_same, young)
        run.held += len(young) - len(settled)
        kept = {f.path for f in settled}
        for f in young:
            if f.path not in kept:
                log.info(
                    "scan %s: %s is still being written; it is looked at again later", run.scan_id[:8], f.path
                )
        return failed + await self.batches.probe_all(settled, run)

    async def scan_files(
        self, paths: Iterable[Path], *, trigger: ScanTrigger = ScanTrigger.WATCH, run: ScanRun | None = None
    ) -> ScanCompleted:
        """Look at just these files (the watch's finds, a Plex or Jellyfin sync's): probe the ones that are
        new or changed.

        They show in the ``scans`` bucket on ``run``'s entry, so that a burst of watch batches or a sync's
        chunks make one entry between them; by default on an entry of their own, for ``trigger``. The entry
        is finished when these files are done, and taken up again by the next call with the same run: it
        never waits unfinished between calls. A cancelled run probes nothing more. Files that are all gone,
        locked or outside the library folders leave no entry.
        """
        started = time.monotonic()
        found = await asyncio.to_thread(self._found, list(paths))
        if run is None:
            run = ScanRun(uuid.uuid4().hex, trigger, ())
        if not found or run.cancelled:  # nothing to show, nothing to probe: the summary only
            async with self._one_scan:
                return await self._summarise(run, found, started)
        run.roots = tuple(sorted({*run.roots, *(str(f.library) for f in found)}))
        self.runs[run.scan_id] = run
        try:
            await self.board.show(run)
            probed_before = run.probed
            async with self._followed(run), self._one_scan:  # kept current while it waits its turn too
                todo, failed = await self._probe_files(found, run)
            completed = await self._summarise(
                run, found, started, len(todo), run.probed - probed_before, failed
            )
        finally:
            del self.runs[run.scan_id]
        if todo:
            log.info(
                "%s %s: %d new or changed file(s) probed, %d failed",
                run.trigger,
                run.scan_id[:8],
                completed.probed,
                failed,
            )
        return completed

    async def _probe_files(self, found: list[Found], run: ScanRun) -> tuple[list[Found], int]:
        """Probe the files among ``found`` that are new or changed, as one stretch of ``run``: the files to
        probe and the failures."""
        todo = await self._changed_in_catalogue(found)
        run.seen += len(found)
        run.to_probe += len(todo)
        run.probing()
        failed = await self.batches.probe_all(todo, run)
        run.finish("cancelled" if run.cancelled else "done")
        return todo, failed

    async def _summarise(
        self,
        run: ScanRun,
        found: list[Found],
        started: float,
        changed: int = 0,
        probed: int = 0,
        failed: int = 0,
    ) -> ScanCompleted:
        """Publish the summary of one ``scan_files``: the videos it was given, what it did with them."""
        completed = ScanCompleted(
            scan_id=run.scan_id,
            roots=tuple(str(f.path) for f in found),
            seen=len(found),
            probed=probed,
            unchanged=len(found) - changed,
            failed=failed,
            elapsed_seconds=round(time.monotonic() - started, 3),
            cancelled=run.cancelled,
        )
        await publish(self.js, completed)
        return completed

    def _found(self, paths: list[Path]) -> list[Found]:
        """The videos among ``paths`` that exist, resolve inside a scanned library folder and are not
        locked."""
        found = []
        folders = self.folders
        for path in paths:
            try:
                resolved = contain(path, self.media_paths)
                st = resolved.stat()
                names = {p.name for p in resolved.parent.iterdir()}
            except (OutsideMediaPaths, OSError):
                continue
            folder = folders.scanned(resolved)
            if (
                folder is None
                or not stat.S_ISREG(st.st_mode)
                or not is_candidate(resolved.name)
                or is_locked(names, resolved.name)
            ):
                continue
            identity = FileIdentity(
                size=st.st_size, mtime_ns=st.st_mtime_ns, inode=st.st_ino, links=st.st_nlink
            )
            found.append(Found(resolved, folder.path, identity, folder.type))
        return found


def _still_the_same(files: list[Found]) -> list[Found]:
    """The files whose size and mtime have not changed since they were found, with no lock beside them."""
    same = []
    for f in files:
        try:
            st = os.stat(f.path)
        except OSError:
            continue  # gone meanwhile: the next scan forgets it
        locked = any(
            os.path.exists(str(f.path.with_name(base)) + LOCK_SUFFIX)
            for base in (f.path.name, os.path.splitext(f.path.name)[0])
        )
        if (st.st_size, st.st_mtime_ns) == (f.identity.size, f.identity.mtime_ns) and not locked:
            same.append(f)
    return same
