"""Periodic work whose period is a setting: it may change while the loop waits, and the loop then waits for
the new period from its last run (at once if that is past), rather than finishing the old wait first."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Cadence:
    """A period in seconds (0 or less: never), changed with :meth:`set`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.changed = asyncio.Event()

    def set(self, seconds: float) -> None:
        if seconds != self.seconds:
            self.seconds = seconds
            self.changed.set()


async def every(
    stopping: asyncio.Event,
    cadence: Cadence,
    action: Callable[[], Awaitable[object]],
    *,
    what: str,
    at_start: bool = False,
) -> None:
    """Run ``action`` every ``cadence.seconds`` (first at once when ``at_start``) until a stop is asked for.
    A run that fails is logged with its traceback, and the next one tries again."""
    run_now = at_start
    while True:
        if run_now:
            try:
                await action()
            except Exception:  # the loop's outermost edge: the next pass tries again
                log.exception("%s failed; trying again in %.0f s", what, cadence.seconds)
        last = time.monotonic()
        if not await _due(stopping, cadence, last):
            return
        run_now = True


async def _due(stopping: asyncio.Event, cadence: Cadence, last: float) -> bool:
    """Wait until a run is due (True) or a stop was asked for (False)."""
    while not stopping.is_set():
        cadence.changed.clear()
        left = None if cadence.seconds <= 0 else last + cadence.seconds - time.monotonic()
        if left is not None and left <= 0:
            return True
        waits = [asyncio.ensure_future(stopping.wait()), asyncio.ensure_future(cadence.changed.wait())]
        try:
            done, _ = await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        if not done:
            return True
    return False
