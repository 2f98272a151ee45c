"""The arr service's settings, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from librarrarian_runtime import env, outbound
from librarrarian_runtime.outbound import PrivateServers

HOUR = 3600.0


@dataclass(frozen=True)
class Settings:
    nats_url: str
    database_url: str
    media_paths: tuple[Path, ...]
    node: str = "arr"
    # Whether the apps' TLS certificates are checked, unless an app's own switch says otherwise.
    ssl_verify: bool = True
    private_servers: PrivateServers = PrivateServers.LAN
    timeout_seconds: float = 30.0  # one request to an app
    # How long a rename or rescan the app runs is waited for (its status asked with a growing pause).
    command_timeout_seconds: float = 300.0
    # How often an app in automatic mode is scanned for renames and quality mismatches (0: never on its own).
    scan_interval_seconds: float = 24 * HOUR
    # Tries of a rescan after a transcode while the app cannot be reached: the first pause, doubled each
    # time up to the longest.
    retry_seconds: float = 30.0
    max_retry_seconds: float = HOUR

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            nats_url=env.nats_url(),
            database_url=env.database_url(),
            media_paths=env.paths("MEDIA_PATHS"),
            node=env.node_name(),
            ssl_verify=env.flag("ARR_SSL_VERIFY", True),
            private_servers=env.choice(outbound.SETTING, PrivateServers, PrivateServers.LAN),
            timeout_seconds=env.number("ARR_TIMEOUT_SECONDS", 30.0, minimum=1.0),
            command_timeout_seconds=env.number("ARR_COMMAND_TIMEOUT_SECONDS", 300.0, minimum=1.0),
            scan_interval_seconds=env.number("ARR_SCAN_INTERVAL_HOURS", 24.0, minimum=0.0) * HOUR,
            retry_seconds=env.number("ARR_RETRY_SECONDS", 30.0, minimum=1.0),
            max_retry_seconds=env.number("ARR_MAX_RETRY_SECONDS", HOUR, minimum=1.0),
        )
