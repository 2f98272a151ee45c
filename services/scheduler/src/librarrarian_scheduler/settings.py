"""The scheduler's settings, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from librarrarian_contracts.topology import HwClass
from librarrarian_runtime import env


@dataclass(frozen=True)
class Settings:
    nats_url: str
    database_url: str
    max_attempts: int = 3
    retry_delay_seconds: float = 30.0
    hw_class: HwClass = HwClass.CPU

    @classmethod
    def from_env(cls) -> Settings:
        hw = env.text("HW_CLASS", "cpu")
        if hw not in {h.value for h in HwClass}:
            raise env.SettingsError(
                f"HW_CLASS must be one of {', '.join(h.value for h in HwClass)}, not {hw!r}"
            )
        return cls(
            nats_url=env.nats_url(),
            database_url=env.database_url(),
            max_attempts=env.integer("MAX_ATTEMPTS", 3, minimum=1),
            retry_delay_seconds=env.number("RETRY_DELAY_SECONDS", 30.0, minimum=0),
            hw_class=HwClass(hw),
        )
