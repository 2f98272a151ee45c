"""Signals → an ``asyncio.Event``: the first SIGTERM/SIGINT asks for a graceful stop; another one, sent on
purpose later, forces.

One stop often arrives more than once: a Ctrl-C or a ``kill`` of the process group reaches every process in
it, and ``uv run`` or ``make`` pass the signal they got on to their child as well, a fraction of a second
later. A signal repeated within ``REPEAT_SECONDS`` of the first is that same stop, not a second request."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from . import bus

log = logging.getLogger(__name__)

# Forwarded copies come within a fraction of a second (uv: 0.1 to 0.3 s); a person pressing Ctrl-C again
# because the stop takes long does so later.
REPEAT_SECONDS = 2.0
FORCED_EXIT = 130


def stop_event(force: Callable[[], object] | None = None) -> asyncio.Event:
    """Install the handlers on the running loop and return the event they set. On a forced exit
    ``force`` runs first (synchronously: what the process started that would outlive it, stopped now)."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    first: float | None = None

    def handle(sig: signal.Signals) -> None:
        nonlocal first
        now = time.monotonic()
        if first is None:
            first = now
            log.info("%s received: stopping gracefully", sig.name)
            stopping.set()
        elif now - first < REPEAT_SECONDS:
            log.info("%s again, %.2f s after the first: the same stop, passed on", sig.name, now - first)
        else:
            log.warning("second %s: exiting now", sig.name)
            if force is not None:
                try:
                    force()
                except Exception:  # exiting all the same: this is what was asked for
                    log.exception("could not stop everything before exiting")
            os._exit(FORCED_EXIT)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, handle, sig)
    return stopping


def run_service(main: Coroutine[Any, Any, None]) -> None:
    """A service's whole life: ``main`` to its end. A stop asked for before NATS answered ends it as a
    stop, not as a failure."""
    try:
        asyncio.run(main)
    except bus.Stopped as stopped:
        log.info("%s", stopped)


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
