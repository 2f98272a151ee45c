"""Picking up new and changed files within seconds (inotify through watchfiles), once they stop changing.

A file still being copied changes size at every look; it is probed only after it has stayed the same for
``settle_seconds`` and no lock lies beside it. The periodic scan still runs: a watch can miss changes made
on another machine of a network share.

The watch's batches show in the ``scans`` bucket as one entry per burst: batches that follow each other
within ``QUIET_SECONDS`` add to the same entry, so an import of thousands of files (a batch every half
second) makes one entry, not thousands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from pathlib import Path

import watchfiles
from librarrarian_contracts.enums import ScanTrigger

from .progress import ScanRun
from .scan import Scanner
from .walk import LOCK_SUFFIX, is_candidate, walk

log = logging.getLogger(__name__)

# A batch this long after the last one ends starts an entry of its own in the scans bucket.
QUIET_SECONDS = 60.0
# How long the settle loop sleeps when no file is waiting (a noted file wakes it at once).
IDLE_SECONDS = 60.0


class Watcher:
    def __init__(self, scanner: Scanner, media_paths: tuple[Path, ...], settle_seconds: float = 2.0) -> None:
        self.scanner = scanner
        self.media_paths = media_paths
        self.settle_seconds = settle_seconds
        # path → (size, mtime_ns, when that was first seen): the files waiting to settle.
        self.pending: dict[Path, tuple[int, int, float]] = {}
        self.burst: ScanRun | None = None  # the entry the batches of the current burst add to
        self._last_batch = 0.0  # when the last batch ended
        self._woken = asyncio.Event()  # set when a file is noted: the settle loop works out its next wake

    def notice(self, raw: str) -> None:
        path = Path(raw)
        if path.name.endswith(LOCK_SUFFIX):
            # A lock came or went: the file it guards is looked at again once it is gone.
            base = path.name.removesuffix(LOCK_SUFFIX)
            for candidate in path.parent.glob(f"{glob_escape(base)}*"):
                if is_candidate(candidate.name):
                    self.expect(candidate)
            return
        if is_candidate(path.name):
            self.expect(path)

    def expect(self, path: Path) -> None:
        """``path`` has just changed: note its size and mtime now, and look again once the settle time has
        passed. A change since the last note starts the wait again; a note of the same size and mtime
        keeps it (the change it was told of happened before that note)."""
        try:
            st = os.stat(path)
        except OSError:
            self.pending.pop(path, None)  # gone already; if it comes back, the watch hears of it
            return
        now = (st.st_size, st.st_mtime_ns)
        noted = self.pending.get(path)
        if noted is None or noted[:2] != now:
            self.pending[path] = (*now, time.monotonic())
            self._woken.set()

    def settled(self) -> list[Path]:
        """Files that stayed the same for the settle time; forget the ones that vanished. Only the files
        whose wait is over are looked at."""
        now = time.monotonic()
        ready = []
        for path, (size, mtime, since) in list(self.pending.items()):
            if now - since < self.settle_seconds:
                continue
            try:
                st = os.stat(path)
            except OSError:
                del self.pending[path]
                continue
            if (st.st_size, st.st_mtime_ns) != (size, mtime):
                self.pending[path] = (st.st_size, st.st_mtime_ns, now)
            else:
                ready.append(path)
                del self.pending[path]
        return ready

    def next_due(self) -> float | None:
        """Seconds until the first pending file's wait is over (None: nothing pending)."""
        if not self.pending:
            return None
        first = min(since for _, _, since in self.pending.values())
        return max(0.0, first + self.settle_seconds - time.monotonic())

    async def run(self, stopping: asyncio.Event) -> None:
        roots = [str(p) for p in self.media_paths if p.is_dir()]
        if not roots:
            return
        log.info("watching %s for new files", ", ".join(roots))
        settle = asyncio.create_task(self._settle_loop(stopping))
        try:
            async for changes in watchfiles.awatch(
                *roots,
                stop_event=stopping,
                debounce=400,
                step=50,
                recursive=True,
                ignore_permission_denied=True,
            ):
                added = []
                for change, raw in changes:
                    if change != watchfiles.Change.deleted or raw.endswith(LOCK_SUFFIX):
                        self.notice(raw)
                    if change == watchfiles.Change.added:
                        added.append(Path(raw))
                if added:
                    # A folder moved in whole (a download client's finished folder) is one event: the
                    # videos in it are heard of only here. A folder made here and filled at once too, by
                    # files written before its watch was set.
                    for path in await asyncio.to_thread(self.videos_in, added):
                        self.expect(path)
        finally:
            settle.cancel()

    def videos_in(self, added: list[Path]) -> list[Path]:
        """The videos under the folders among ``added``, by the scan's own rules (inside the library
        folders, no dotfile, no partial or locked file, no symlink leading out)."""
        roots = tuple(p for p in added if not p.name.startswith(".") and p.is_dir())
        return [f.path for f in walk(roots, self.media_paths, folders=self.scanner.folders)]

    async def _settle_loop(self, stopping: asyncio.Event) -> None:
        """Probe each file as soon as its wait is over: the loop sleeps until the first one is due, or until
        a new one is noted, rather than looking on a fixed tick (which added up to a tick to every file)."""
        while not stopping.is_set():
            self._woken.clear()
            due = self.next_due()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), IDLE_SECONDS if due is None else due)
            ready = self.settled()
            if ready:
                try:
                    await self.scanner.scan_files(ready, run=self._run_for_batch())
                except Exception:  # the loop's outermost edge: the periodic scan catches what this misses
                    log.exception("watch: probing %d file(s) failed", len(ready))
                self._last_batch = time.monotonic()

    def _run_for_batch(self) -> ScanRun:
        """The current burst's entry, or a new one after a quiet spell (or a cancel: it stays cancelled)."""
        quiet = time.monotonic() - self._last_batch > QUIET_SECONDS
        if self.burst is None or self.burst.cancelled or quiet:
            self.burst = ScanRun(uuid.uuid4().hex, ScanTrigger.WATCH, ())
        return self.burst


def glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)
