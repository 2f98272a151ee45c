"""The time a node reads its schedule by: the system's, or one a test moves (anything with ``now`` and
``sleep_until``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware instant."""

    async def sleep_until(self, when: datetime) -> None:
        """Return at ``when`` or earlier (the caller looks again): never much later."""


class SystemClock:
    # The wall clock can jump (NTP, a suspended machine): a long wait is cut in steps so a window opens
    # at most this late.
    STEP_SECONDS = 60.0

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime) -> None:
        left = (when - self.now()).total_seconds()
        await asyncio.sleep(min(max(left, 0.0), self.STEP_SECONDS))
