"""The ``scans`` bucket as the services that run scans write it (the scanner's library scans, the arr service's
app scans): a scan's entry rewritten about every second while it runs and once when it ends, and whether a
scan was cancelled before its command was taken.

Writing progress is best effort: a bucket that cannot be written costs the dashboard a figure, never the scan
its work. A cancel that cannot be looked for is taken as none: better to scan than to drop a scan.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

import msgspec
from librarrarian_contracts import topology
from librarrarian_contracts.scans import ScanStatus, scan_key
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue

__all__ = ["UPDATE_SECONDS", "ScanBoard", "Shown"]

log = logging.getLogger(__name__)

# How often a running scan's entry is rewritten: often enough for a live figure, rarely enough to be free.
UPDATE_SECONDS = 1.0


class Shown(Protocol):
    """A scan as it runs: its id and its entry now."""

    @property
    def scan_id(self) -> str: ...

    def status(self) -> ScanStatus: ...


class ScanBoard:
    def __init__(self, js: JetStreamContext, update_seconds: float = UPDATE_SECONDS) -> None:
        self.js = js
        self.update_seconds = update_seconds
        self._kv: KeyValue | None = None

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            self._kv = await self.js.key_value(topology.SCANS.name)
        return self._kv

    async def show(self, run: Shown) -> None:
        try:
            kv = await self._bucket()
            await kv.put(scan_key(run.scan_id), msgspec.json.encode(run.status()))
        except (NatsError, TimeoutError) as error:
            log.warning("scan %s: progress not written: %s", run.scan_id[:8], error)

    async def follow(self, run: Shown) -> None:
        """Rewrite the entry every ``update_seconds`` until cancelled (the scan's end writes the last one)."""
        while True:
            await asyncio.sleep(self.update_seconds)
            await self.show(run)

    async def cancelled_while_queued(self, scan_id: str) -> bool:
        """Whether a cancel for this scan was sent before its command was taken (while no service ran it,
        or while another scan ran): the ``CONTROL`` stream keeps it on the scan's own subject."""
        try:
            await self.js.get_last_msg(topology.CONTROL.name, topology.scan_cancel_subject(scan_id))
        except NotFoundError:
            return False
        except (NatsError, TimeoutError) as error:
            log.warning("scan %s: cannot look for a cancel: %s", scan_id[:8], error)
            return False
        return True
