"""The gateway's settings, read once from the environment; settings that would leave the door open are
refused at start with the variable named."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from librarrarian_runtime import env, outbound
from librarrarian_runtime.outbound import PrivateServers

from .credentials import password_problem
from .oidc import OidcSettings

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
KIB = 1024


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def default_hosts(host: str) -> tuple[str, ...]:
    """Listening on loopback, only loopback names reach us (a web page cannot rebind its own name to this
    machine and talk to us); otherwise we cannot know the names users type, so any (see ``ALLOWED_HOSTS``)."""
    return LOOPBACK_NAMES if is_loopback(host) else ("*",)


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
    session_idle_minutes: int = 12 * 60
    allowed_hosts: tuple[str, ...] = field(default=())  # empty: default_hosts(host)
    forwarded_allow_ips: tuple[str, ...] = ()  # proxies whose X-Forwarded-Proto/-For we believe
    max_body_bytes: int = 1024 * KIB
    local_login_enabled: bool = True  # the user name and password form
    oidc: OidcSettings | None = None  # sign-in with an OpenID provider
    # Which private addresses notification URLs may reach (``PRIVATE_SERVERS``, as the scanner's).
    private_servers: PrivateServers = PrivateServers.LAN

    def __post_init__(self) -> None:
        if self.auth_enabled and not self.local_login_enabled and self.oidc is None:
            raise env.SettingsError(
                "LOCAL_LOGIN_ENABLED=false leaves no way to log in: set OIDC_ENABLED=true with the "
                "OIDC_* settings, or keep the password form (LOCAL_LOGIN_ENABLED=true)"
            )
        if not self.auth_enabled and not is_loopback(self.host):
            raise env.SettingsError(
                f"AUTH_ENABLED=false is refused while HOST is {self.host}: without logins the gateway may "
                "only listen on loopback (HOST=127.0.0.1)"
            )
        for pattern in self.allowed_hosts:
            if "*" in pattern[1:] or (
                pattern.startswith("*") and pattern != "*" and not pattern.startswith("*.")
            ):
                raise env.SettingsError(f"ALLOWED_HOSTS: {pattern!r} is not a name, * or *.domain")
        if self.local_password is not None:
            problem = password_problem(self.local_password)
            if problem:
                raise env.SettingsError(f"LOCAL_PASSWORD is refused: {problem}")

    @property
    def trusted_hosts(self) -> tuple[str, ...]:
        return self.allowed_hosts or default_hosts(self.host)

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
            session_idle_minutes=env.integer("SESSION_IDLE_MINUTES", 12 * 60, minimum=1),
            allowed_hosts=_listed("ALLOWED_HOSTS"),
            forwarded_allow_ips=_listed("FORWARDED_ALLOW_IPS"),
            max_body_bytes=env.integer("MAX_BODY_KIB", 1024, minimum=16) * KIB,
            backup_dir=Path(backup_dir) if (backup_dir := env.optional("BACKUP_DIR")) else None,
            local_login_enabled=env.flag("LOCAL_LOGIN_ENABLED", True),
            oidc=OidcSettings.from_env(),
            private_servers=env.choice(outbound.SETTING, PrivateServers, PrivateServers.LAN),
        )


def _listed(name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in (env.optional(name) or "").split(",") if item.strip())
