"""Probing files with PyAV off the event loop: a few threads, each taking the next file until none is left,
each file within a deadline.

A pass costs one thread per worker, not a hand-off to a thread and back per file: those woke the event loop
per file, and the loop's turns competed with the probes for the GIL. Every way a file can fail becomes a
one-line ``ProbeError`` reason, so one bad file never stops a scan. A file that takes longer than the timeout
is reported as timed out; the thread stuck on it is abandoned (it takes no other file) and a fresh one goes
on with the rest. The threads are the prober's own daemon threads, not the event loop's executor: a probe
stuck for good (a share that stopped answering) holds neither the walk's threads nor the process's exit.

``examine_all`` also takes each file's fingerprint in the same thread, while its first blocks are in the
cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from librarrarian_contracts import MediaProbe
from librarrarian_media import ProbeError, probe

from .fingerprint import fingerprint

log = logging.getLogger(__name__)

Reader = Callable[[Path], MediaProbe]
Examined = tuple[MediaProbe, str | None]  # the probe, and the fingerprint (None if it could not be taken)
T = TypeVar("T")

# Threads abandoned on a hung file and not back yet. Past this many, something hangs every file (a share
# that stopped answering): no new thread is started, and the files not reached wait for the next scan.
MAX_STUCK = 8


class Prober:
    def __init__(self, workers: int, timeout_seconds: float, read: Reader = probe) -> None:
        self.workers = workers
        self.timeout_seconds = timeout_seconds
        self._read = read
        self._slots = asyncio.Semaphore(workers)  # threads probing, across every pass at once
        self.stuck = 0  # abandoned threads not back yet

    async def probe(self, path: Path) -> MediaProbe:
        """The file's streams, or ``ProbeError`` with the reason it cannot be read."""
        results: list[MediaProbe | ProbeError] = []
        await _Pass(self, [path], self._read, lambda _, result: results.append(result)).run(1)
        if not results:
            raise ProbeError(f"not probed: {self.stuck} probes are stuck")
        if isinstance(results[0], ProbeError):
            raise results[0]
        return results[0]

    async def examine_all(
        self,
        paths: Sequence[Path],
        report: Callable[[int, Examined | ProbeError], None],
        stop: threading.Event | None = None,
    ) -> None:
        """Probe and fingerprint ``paths``, calling ``report(i, result)`` as each is done: the probe and
        fingerprint of ``paths[i]``, or the ``ProbeError`` saying why it cannot be read.

        ``report`` is called in a probe thread (or, for a timeout, the event loop's), one call at a time:
        it must be quick. Once ``stop`` is set no thread takes another file; files never reached are not
        reported. A cancel does the same, and returns at once.
        """
        await _Pass(self, paths, self._examine, report, stop).run(self.workers)

    def _examine(self, path: Path) -> Examined:
        try:
            content = fingerprint(path)
        except OSError:
            content = None  # the probe says why the file cannot be read
        return self._read(path), content


@dataclass(eq=False)
class _Shift:
    """One thread's turn at a pass: the file it is on, and since when."""

    done: asyncio.Future[None]
    current: int | None = None
    since: float = 0.0
    abandoned: bool = False


@dataclass(eq=False)
class _Pass(Generic[T]):
    """Files handed out to threads one at a time, and a watch on the event loop for the ones that hang."""

    prober: Prober
    paths: Sequence[Path]
    work: Callable[[Path], T]
    report: Callable[[int, T | ProbeError], None]
    stop: threading.Event | None = None
    _pending: deque[int] = field(init=False)
    _halt: threading.Event = field(default_factory=threading.Event)  # set when the pass is cancelled
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _live: list[_Shift] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._pending = deque(range(len(self.paths)))

    async def run(self, most: int) -> None:
        loop = asyncio.get_running_loop()
        most = min(most, len(self.paths))
        timeout = self.prober.timeout_seconds
        slots = self.prober._slots
        try:
            while self._pending and not self._stopped():
                if not self._live:
                    if self.prober.stuck >= MAX_STUCK:
                        log.warning(
                            "%d probes are stuck (a disk or share not answering?): %d file(s) wait for the "
                            "next scan",
                            self.prober.stuck,
                            len(self._pending),
                        )
                        return
                    await slots.acquire()  # one thread at least, whatever others probe
                    self._start(loop)
                while len(self._live) < most and not slots.locked() and self.prober.stuck < MAX_STUCK:
                    await slots.acquire()  # free: returns at once
                    self._start(loop)
                await self._watch(loop, timeout, slots)
            while self._live:  # stopped: the threads finish the file they are on
                await self._watch(loop, timeout, slots)
        except asyncio.CancelledError:
            self._halt.set()  # each thread stops before its next file; nobody waits for them
            for _ in self._live:
                slots.release()
            raise

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        shift = _Shift(loop.create_future())
        self._live.append(shift)
        threading.Thread(target=self._take_files, args=(shift, loop), name="probe", daemon=True).start()

    async def _watch(self, loop: asyncio.AbstractEventLoop, timeout: float, slots: asyncio.Semaphore) -> None:
        """Wait for a thread to finish, or for the next look at the files in progress; a thread whose file
        has taken longer than ``timeout`` is abandoned and its file reported as timed out."""
        await asyncio.wait(
            {s.done for s in self._live}, timeout=min(1.0, timeout / 4), return_when=asyncio.FIRST_COMPLETED
        )
        now = time.monotonic()
        for shift in list(self._live):
            if shift.done.done():
                self._live.remove(shift)
                slots.release()
                continue
            with self._lock:
                if shift.current is None or now - shift.since <= timeout:
                    continue
                shift.abandoned = True
                self.report(shift.current, ProbeError(f"probe timed out after {timeout:g} s"))
            self._live.remove(shift)
            slots.release()
            self.prober.stuck += 1
            shift.done.add_done_callback(lambda _: self._unstick())

    def _unstick(self) -> None:
        self.prober.stuck -= 1

    def _stopped(self) -> bool:
        return self._halt.is_set() or (self.stop is not None and self.stop.is_set())

    def _take_files(self, shift: _Shift, loop: asyncio.AbstractEventLoop) -> None:
        """A probe thread: the next file until none is left, the pass stops, or this thread was abandoned."""
        try:
            while True:
                with self._lock:
                    if shift.abandoned or not self._pending or self._stopped():
                        shift.current = None
                        return
                    index = self._pending.popleft()
                    shift.current, shift.since = index, time.monotonic()
                result = self._attempt(self.paths[index])
                with self._lock:
                    if shift.abandoned:
                        return  # reported as timed out meanwhile
                    shift.current = None
                    self.report(index, result)
        finally:
            with contextlib.suppress(RuntimeError):  # the event loop is gone: nobody waits for this thread
                loop.call_soon_threadsafe(_settle, shift.done)

    def _attempt(self, path: Path) -> T | ProbeError:
        try:
            return self.work(path)
        except ProbeError as problem:
            return problem
        except Exception as error:  # a decoder's surprise about one file is that file's problem
            log.exception("%s: the probe failed unexpectedly", path)
            reason = " ".join(str(error).split()) or type(error).__name__
            return ProbeError(f"probe failed: {reason}")


def _settle(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)
