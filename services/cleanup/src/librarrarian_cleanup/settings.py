"""The cleanup service's settings, read once from the environment. The stale age and the interval are only the
first-start defaults of the ``cleanup`` setting, which the service follows live."""

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
    stale_after_hours: float = 24.0
    interval_hours: float = 24.0

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            nats_url=env.nats_url(),
            media_paths=env.paths("MEDIA_PATHS"),
            node=env.node_name(),
            stale_after_hours=env.number("STALE_AFTER_HOURS", 24.0, minimum=1.0, maximum=8_760),
            interval_hours=env.number("CLEANUP_INTERVAL_HOURS", 24.0, minimum=0.0, maximum=8_760),
        )
