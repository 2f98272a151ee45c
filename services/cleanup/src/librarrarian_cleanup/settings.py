"""The cleanup service's settings, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from librarrarian_runtime import env

HOUR = 3600.0


@dataclass(frozen=True)
class Settings:
    nats_url: str
    media_paths: tuple[Path, ...]
    node: str
    # A temporary or lock file untouched this long belongs to nothing that still runs: an encode writes
    # its output continuously, a download touches its lock.
    stale_after_seconds: float = 24 * HOUR
    # How often to look on its own (0: only when asked). What it finds waits for approval either way.
    scan_interval_seconds: float = 24 * HOUR

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            nats_url=env.nats_url(),
            media_paths=env.paths("MEDIA_PATHS"),
            node=env.node_name(),
            stale_after_seconds=env.number("STALE_AFTER_HOURS", 24.0, minimum=1.0) * HOUR,
            scan_interval_seconds=env.number("CLEANUP_INTERVAL_HOURS", 24.0, minimum=0.0) * HOUR,
        )
