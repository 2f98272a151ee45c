"""The scanner's settings, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from librarrarian_contracts import topology
from librarrarian_runtime import env, outbound
from librarrarian_runtime.outbound import PrivateServers


@dataclass(frozen=True)
class Settings:
    nats_url: str
    database_url: str
    media_paths: tuple[Path, ...]
    scan_on_start: bool = True
    scan_interval_seconds: float = 300.0  # the first-start default of the ``scanner.timing`` setting
    probe_workers: int = 2
    probe_timeout_seconds: float = 30.0
    watch: bool = True
    watch_settle_seconds: float = 2.0
    plex_tv_url: str = "https://plex.tv"
    source_timeout_seconds: float = 30.0
    # Which Plex and Jellyfin addresses besides public ones may be reached (outbound.PrivateServers).
    private_servers: PrivateServers = PrivateServers.LAN
    # How often Plex and Jellyfin are asked who is watching (while the ``streaming`` setting is not off).
    playback_poll_seconds: float = topology.PLAYBACK_POLL_SECONDS

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            nats_url=env.nats_url(),
            database_url=env.database_url(),
            media_paths=env.paths("MEDIA_PATHS"),
            scan_on_start=env.flag("SCAN_ON_START", True),
            scan_interval_seconds=env.number("SCAN_INTERVAL_SECONDS", 300.0, minimum=0, maximum=7 * 86_400),
            probe_workers=env.integer("PROBE_WORKERS", 2, minimum=1),
            probe_timeout_seconds=env.number("PROBE_TIMEOUT_SECONDS", 30.0, minimum=1),
            watch=env.flag("WATCH", True),
            watch_settle_seconds=env.number("WATCH_SETTLE_SECONDS", 2.0, minimum=0),
            plex_tv_url=env.text("PLEX_TV_URL", "https://plex.tv"),
            source_timeout_seconds=env.number("SOURCE_TIMEOUT_SECONDS", 30.0, minimum=1),
            private_servers=env.choice(outbound.SETTING, PrivateServers, PrivateServers.LAN),
            playback_poll_seconds=env.number(
                "PLAYBACK_POLL_SECONDS", topology.PLAYBACK_POLL_SECONDS, minimum=1, maximum=3600
            ),
        )
