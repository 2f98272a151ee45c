"""Waiting for the first of several things (a job's end, the node's stop, a window's change)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable


async def first(*awaitables: Awaitable[object]) -> None:
    """Wait until the first of these is done; cancel the waits that are not tasks of their own."""
    futures = [a if isinstance(a, asyncio.Task) else asyncio.ensure_future(a) for a in awaitables]
    try:
        await asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for future, original in zip(futures, awaitables, strict=True):
            if future is not original:
                future.cancel()
