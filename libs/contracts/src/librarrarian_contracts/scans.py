"""What a scan is doing, for the dashboard and the API: one entry per scan in the ``scans`` bucket, kept
current by the scanner that runs it (every second or so) and left for a day after it ends.

A new field gets a default: entries written by an older scanner are still read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from .enums import ScanTrigger
from .stamps import utcnow

# queued: waiting for the scan before it; cancelled: stopped on request; failed: stopped by an error.
ScanState = Literal["queued", "walking", "probing", "done", "cancelled", "failed"]
FINISHED: frozenset[str] = frozenset({"done", "cancelled", "failed"})


class ScanStatus(msgspec.Struct, frozen=True, kw_only=True):
    scan_id: str
    trigger: ScanTrigger
    roots: tuple[str, ...]
    force: bool = False
    state: ScanState = "queued"
    seen: int = 0  # videos found so far
    to_probe: int = 0  # of those, new, changed or forced
    probed: int = 0  # probed (successfully or not)
    queued: int = 0  # published for the scheduler
    errors: int = 0  # files that could not be probed
    held: int = 0  # still being written: left for the watch or the next scan
    rate: float = 0.0  # files probed per second
    eta_seconds: float | None = None
    detail: str = ""  # why it failed
    started_at: datetime = msgspec.field(default_factory=utcnow)
    updated_at: datetime = msgspec.field(default_factory=utcnow)
    finished_at: datetime | None = None
    # library: the scanner's walk of the folders; rename, quality: the arr service asking one app (``app``),
    # where ``seen`` counts the app's series, movies or artists (or cutoff-unmet entries) and ``queued`` the
    # files it found.
    kind: Literal["library", "rename", "quality"] = "library"
    app: str = ""


def scan_key(scan_id: str) -> str:
    """KV keys allow ``[-/_=.a-zA-Z0-9]``; scan ids are hex already, anything else is flattened."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in scan_id)
