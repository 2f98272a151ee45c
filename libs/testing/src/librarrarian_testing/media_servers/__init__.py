"""Fake plex.tv, Plex Media Server, Jellyfin, Sonarr, Radarr and Lidarr on real local sockets, answering what their published API
documents (``../shared/specs``) describe, and a checker that tells whether a request is one those documents
list. Plex answers XML shaped as plexapi reads it; plex.tv and Jellyfin answer JSON.

Each fake records every request it gets, so a test can check that the project asked only for documented
things, and refuses what it does not know (404) or a wrong token (401) like the real servers do.
"""

from .arr import FakeArr, FakeFile, FakeItem
from .jellyfin import FakeJellyfin, FakeLibrary
from .plex import FakePlexServer, FakePlexTv, FakeSection
from .plex_webhooks import payload as plex_webhook_payload
from .plex_webhooks import send_webhook as send_plex_webhook
from .recording import Recorder, Seen, serving
from .specs import Spec, arr_spec, jellyfin_spec, plex_server_spec, plex_tv_spec

__all__ = [
    "FakeArr",
    "FakeFile",
    "FakeItem",
    "FakeJellyfin",
    "FakeLibrary",
    "FakePlexServer",
    "FakePlexTv",
    "FakeSection",
    "Recorder",
    "Seen",
    "Spec",
    "arr_spec",
    "jellyfin_spec",
    "plex_server_spec",
    "plex_tv_spec",
    "plex_webhook_payload",
    "send_plex_webhook",
    "serving",
]
