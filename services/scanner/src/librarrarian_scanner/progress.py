"""Each scan's progress (files seen, probed, published, errors; rate; ETA) and the means to stop it: a
``ScanRun`` is shared between the scan, its walk thread and whoever cancels it. The ``scans`` bucket shows it
through ``librarrarian_runtime.scan_board``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from librarrarian_contracts.enums import ScanTrigger
from librarrarian_contracts.messages import utcnow
from librarrarian_contracts.scans import ScanStatus

log = logging.getLogger(__name__)


@dataclass
class ScanRun:
    """One scan's counters; the walk thread and the probe workers add to them as they go."""

    scan_id: str
    trigger: ScanTrigger
    roots: tuple[str, ...]
    force: bool = False
    state: str = "queued"
    seen: int = 0
    to_probe: int = 0
    probed: int = 0
    queued: int = 0
    errors: int = 0
    held: int = 0
    detail: str = ""
    started_at: datetime = field(default_factory=utcnow)
    finished_at: datetime | None = None
    stop: threading.Event = field(default_factory=threading.Event)  # set: cancel (read by the walk thread)
    _probing_since: float | None = None  # when the current stretch of probing began
    _probed_seconds: float = 0.0  # spent probing in earlier stretches (a watch's earlier batches)

    @property
    def cancelled(self) -> bool:
        return self.stop.is_set()

    def cancel(self) -> None:
        self.stop.set()

    def probing(self) -> None:
        """Probing begins; or begins again, for a run made of several stretches (a watch's batches, a
        sync's chunks), each finished when it ends."""
        self.state, self.detail, self.finished_at = "probing", "", None
        self._probing_since = time.monotonic()

    def finish(self, state: str, detail: str = "") -> None:
        if self._probing_since is not None:
            self._probed_seconds += time.monotonic() - self._probing_since
            self._probing_since = None
        self.state, self.detail, self.finished_at = state, detail, utcnow()

    def status(self) -> ScanStatus:
        rate, eta = 0.0, None
        elapsed = self._probed_seconds
        if self._probing_since is not None:
            elapsed += time.monotonic() - self._probing_since
        if elapsed > 0:
            rate = self.probed / elapsed
            if self.finished_at is None and rate > 0:
                eta = round(max(0, self.to_probe - self.probed - self.held) / rate, 1)
        return ScanStatus(
            scan_id=self.scan_id,
            trigger=self.trigger,
            roots=self.roots,
            force=self.force,
            state=self.state,  # type: ignore[arg-type]  # only ScanState values are assigned
            seen=self.seen,
            to_probe=self.to_probe,
            probed=self.probed,
            queued=self.queued,
            errors=self.errors,
            held=self.held,
            rate=round(rate, 1),
            eta_seconds=eta,
            detail=self.detail,
            started_at=self.started_at,
            finished_at=self.finished_at,
        )
