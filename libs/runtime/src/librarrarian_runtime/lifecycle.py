"""Signals → an ``asyncio.Event``: the first SIGTERM/SIGINT asks for a graceful stop, the second forces."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


def stop_event() -> asyncio.Event:
    """Install the handlers on the running loop and return the event they set."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def handle(sig: signal.Signals) -> None:
        if stopping.is_set():
            log.warning("second %s: exiting now", sig.name)
            os._exit(130)
        log.info("%s received: stopping gracefully", sig.name)
        stopping.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, handle, sig)
    return stopping


async def wait_or_stop(stopping: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``; True if a stop was asked for meanwhile."""
    try:
        await asyncio.wait_for(stopping.wait(), seconds)
    except TimeoutError:
        return False
    return True


async def periodically(
    stopping: asyncio.Event,
    seconds: float,
    action: Callable[[], Awaitable[object]],
    *,
    what: str,
    at_start: bool = False,
) -> None:
    """Run ``action`` every ``seconds`` (first at once when ``at_start``) until a stop is asked for.

    A run that fails is logged with its traceback and the next one tries again: one bad pass must not end
    the loop. ``seconds`` <= 0 means never (but still once at start when asked)."""
    run_now = at_start
    while True:
        if run_now:
            try:
                await action()
            except Exception:  # the loop's outermost edge: the next pass tries again
                log.exception("%s failed; trying again in %.0f s", what, seconds)
        if seconds <= 0 or await wait_or_stop(stopping, seconds):
            return
        run_now = True
