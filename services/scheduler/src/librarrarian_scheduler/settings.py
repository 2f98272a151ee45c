"""The scheduler's settings, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from librarrarian_runtime import env


@dataclass(frozen=True)
class Settings:
    nats_url: str
    database_url: str
    max_attempts: int = 3  # the first-start default of the ``scheduler.retries`` setting
    retry_delay_seconds: float = 30.0
    # Waiting work moves off a hardware class that has had no live node for this long.
    orphan_seconds: float = 120.0
    # Work the stream lost is published again once its job has waited this long without starting.
    reconcile_grace_seconds: float = 300.0

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            nats_url=env.nats_url(),
            database_url=env.database_url(),
            max_attempts=env.integer("MAX_ATTEMPTS", 3, minimum=1, maximum=100),
            retry_delay_seconds=env.number("RETRY_DELAY_SECONDS", 30.0, minimum=0),
            orphan_seconds=env.number("ORPHAN_SECONDS", 120.0, minimum=1),
            reconcile_grace_seconds=env.number("RECONCILE_GRACE_SECONDS", 300.0, minimum=1),
        )
