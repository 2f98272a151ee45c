"""Signals → an ``asyncio.Event``: the first SIGTERM/SIGINT asks for a graceful stop, the second forces."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

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
