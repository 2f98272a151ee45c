"""The history service's settings, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from librarrarian_runtime import env


@dataclass(frozen=True)
class Settings:
    nats_url: str
    database_url: str

    @classmethod
    def from_env(cls) -> Settings:
        return cls(nats_url=env.nats_url(), database_url=env.database_url())
