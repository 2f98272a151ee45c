"""The gateway's settings, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from librarrarian_runtime import env

from .oidc import OidcSettings


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
    # The backup duty's folder, to serve downloads and take uploads from (None: no backup duty beside us).
    backup_dir: Path | None = None
    session_days: int = 30
    local_login_enabled: bool = True  # the user name and password form
    oidc: OidcSettings | None = None  # sign-in with an OpenID provider

    def __post_init__(self) -> None:
        if self.auth_enabled and not self.local_login_enabled and self.oidc is None:
            raise env.SettingsError(
                "LOCAL_LOGIN_ENABLED=false leaves no way to log in: set OIDC_ENABLED=true with the "
                "OIDC_* settings, or keep the password form (LOCAL_LOGIN_ENABLED=true)"
            )

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
            backup_dir=Path(backup_dir) if (backup_dir := env.optional("BACKUP_DIR")) else None,
            local_login_enabled=env.flag("LOCAL_LOGIN_ENABLED", True),
            oidc=OidcSettings.from_env(),
        )
