"""The gateway's settings, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from librarrarian_runtime import env


@dataclass(frozen=True)
class Settings:
    nats_url: str
    database_url: str
    host: str = "0.0.0.0"
    port: int = 5000
    auth_enabled: bool = True
    local_user: str | None = None
    local_password: str | None = None
    api_key: str | None = None
    media_paths: tuple[Path, ...] = ()
    session_days: int = 30

    @classmethod
    def from_env(cls) -> Settings:
        user, password = env.optional("LOCAL_USER"), env.optional("LOCAL_PASSWORD")
        if bool(user) != bool(password):
            raise env.SettingsError("LOCAL_USER and LOCAL_PASSWORD go together: set both or neither")
        return cls(
            nats_url=env.nats_url(),
            database_url=env.database_url(),
            host=env.text("HOST", "0.0.0.0"),
            port=env.integer("PORT", 5000, minimum=1),
            auth_enabled=env.flag("AUTH_ENABLED", True),
            local_user=user,
            local_password=password,
            api_key=env.optional("API_KEY"),
            media_paths=env.paths("MEDIA_PATHS", required=False),
        )
