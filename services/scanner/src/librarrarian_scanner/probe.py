"""Probing files with PyAV off the event loop: a few at a time, each within a deadline.

Every way a file can fail becomes a one-line ``ProbeError`` reason, so one bad file never stops a scan.
``examine`` also takes the file's fingerprint in the same thread, while its first blocks are in the cache.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from librarrarian_contracts import MediaProbe
from librarrarian_media import ProbeError, probe

from .fingerprint import fingerprint

log = logging.getLogger(__name__)

Reader = Callable[[Path], MediaProbe]


class Prober:
    def __init__(self, workers: int, timeout_seconds: float, read: Reader = probe) -> None:
        self.workers = workers
        self.timeout_seconds = timeout_seconds
        self._read = read
        self._slots = asyncio.Semaphore(workers)

    async def probe(self, path: Path) -> MediaProbe:
        """The file's streams, or ``ProbeError`` with the reason it cannot be read."""
        async with self._slots:
            try:
                return await asyncio.wait_for(
                    asyncio.to_thread(self._read_or_explain, path), self.timeout_seconds
                )
            except TimeoutError:
                # A thread cannot be interrupted: it finishes on its own while the scan goes on.
                raise ProbeError(f"probe timed out after {self.timeout_seconds:g} s") from None

    async def examine(self, path: Path) -> tuple[MediaProbe, str | None]:
        """The file's streams and its fingerprint (None if it could not be read for one), or
        ``ProbeError``."""
        async with self._slots:
            try:
                return await asyncio.wait_for(asyncio.to_thread(self._examine, path), self.timeout_seconds)
            except TimeoutError:
                raise ProbeError(f"probe timed out after {self.timeout_seconds:g} s") from None

    def _examine(self, path: Path) -> tuple[MediaProbe, str | None]:
        try:
            content = fingerprint(path)
        except OSError:
            content = None  # the probe says why the file cannot be read
        return self._read_or_explain(path), content

    def _read_or_explain(self, path: Path) -> MediaProbe:
        try:
            return self._read(path)
        except ProbeError:
            raise
        except Exception as error:  # a decoder's surprise about one file is that file's problem
            log.exception("%s: the probe failed unexpectedly", path)
            reason = " ".join(str(error).split()) or type(error).__name__
            raise ProbeError(f"probe failed: {reason}") from None
