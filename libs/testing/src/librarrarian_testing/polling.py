"""Poll for an outcome with a deadline, never a bare sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, overload

T = TypeVar("T")


@overload
async def eventually(
    probe: Callable[[], Awaitable[T]], *, timeout: float = ..., interval: float = ..., message: str = ...
) -> T: ...


@overload
async def eventually(
    probe: Callable[[], T], *, timeout: float = ..., interval: float = ..., message: str = ...
) -> T: ...


async def eventually(
    probe: Callable[[], Awaitable[T]] | Callable[[], T],
    *,
    timeout: float = 30.0,
    interval: float = 0.05,
    message: str = "condition",
) -> T:
    """Call ``probe`` until it returns something truthy; fail with the last value at the deadline."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        result = probe()
        if asyncio.iscoroutine(result) or isinstance(result, Awaitable):
            result = await result
        if result:
            return result
        last = result
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not reached within {timeout} s (last: {last!r})")
        await asyncio.sleep(interval)
