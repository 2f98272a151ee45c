"""Plex and Jellyfin as sources of the library's paths: their settings, and the scanner's request/reply
endpoints through which the gateway sets them up.

The settings, tokens and API keys included, are kept by the scanner in its own PostgreSQL schema (not in a
NATS bucket every node can read): nothing the gateway gets back carries one, only ``configured``. New fields
get defaults (stored settings outlive every version).
"""

from __future__ import annotations

import msgspec

# Keys of the scanner's ``sources`` table.
PLEX_KEY = "sources.plex"
JELLYFIN_KEY = "sources.jellyfin"

PLEX = "plex"
JELLYFIN = "jellyfin"
PLEX_LINK_URL = "https://plex.tv/link"


class PathMapping(msgspec.Struct, frozen=True, kw_only=True):
    """A folder as the media server sees it (``/data/movies``, ``D:\\Movies``) and the same folder here."""

    server: str
    local: str


# --- stored by the scanner in its own PostgreSQL schema (secrets included: the scanner's alone) ------


class PlexSettings(msgspec.Struct, frozen=True, kw_only=True):
    client_id: str = ""  # our X-Plex-Client-Identifier, made once so plex.tv lists one device
    token: str = ""  # the account's token, from the PIN link (secret)
    pin_id: int | None = None  # a link in progress
    pin_code: str = ""
    server_id: str = ""  # the chosen server's clientIdentifier
    server_name: str = ""
    url: str = ""  # how we reach it
    server_token: str = ""  # the server's own access token, from plex.tv's resources (secret)
    sections: tuple[str, ...] = ()  # library section keys
    mappings: tuple[PathMapping, ...] = ()


class JellyfinSettings(msgspec.Struct, frozen=True, kw_only=True):
    url: str = ""
    api_key: str = ""  # secret
    libraries: tuple[str, ...] = ()  # virtual folder ItemIds
    mappings: tuple[PathMapping, ...] = ()


# --- requests to the scanner ---------------------------------------------------------------------


class PlexSelection(msgspec.Struct, frozen=True, kw_only=True):
    server_id: str
    url: str | None = None  # none: the server's first local connection, else its first
    sections: tuple[str, ...] = ()
    mappings: tuple[PathMapping, ...] = ()
    check_only: bool = False  # check everything, store nothing (a settings import checks before it writes)


class JellyfinSetup(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    api_key: str | None = None  # none: keep the stored one
    libraries: tuple[str, ...] = ()
    mappings: tuple[PathMapping, ...] = ()
    check_only: bool = False  # check everything, store nothing


class PlexItem(msgspec.Struct, frozen=True, kw_only=True):
    """A Plex webhook said this item is new: its files are to be looked at now. The gateway checked the
    webhook's secret; the scanner checks that the server is the chosen one and asks it for the files."""

    server_id: str  # the webhook's ``Server.uuid``
    rating_key: str  # digits only: it becomes part of a URL path
    section_id: str = ""  # ``Metadata.librarySectionID``; empty: unknown


class SyncRequest(msgspec.Struct, frozen=True, kw_only=True):
    sources: tuple[str, ...] = ()  # empty: every configured source


# --- replies (never a secret) --------------------------------------------------------------------


class PlexStatus(msgspec.Struct, frozen=True, kw_only=True):
    configured: bool  # an account is linked (the token itself is never shown)
    pin_code: str = ""  # a link in progress: the code to enter at plex.tv/link
    server_id: str = ""
    server_name: str = ""
    url: str = ""
    sections: tuple[str, ...] = ()
    mappings: tuple[PathMapping, ...] = ()


class JellyfinStatus(msgspec.Struct, frozen=True, kw_only=True):
    configured: bool  # an API key is stored
    url: str = ""
    libraries: tuple[str, ...] = ()
    mappings: tuple[PathMapping, ...] = ()


class SourcesStatus(msgspec.Struct, frozen=True, kw_only=True):
    plex: PlexStatus
    jellyfin: JellyfinStatus


class PlexPin(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    linked: bool = False
    expires_in: int = 0
    link_url: str = PLEX_LINK_URL


class PlexConnection(msgspec.Struct, frozen=True, kw_only=True):
    uri: str
    local: bool = False
    relay: bool = False


class PlexServer(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    owned: bool = True
    connections: tuple[PlexConnection, ...] = ()


class PlexServers(msgspec.Struct, frozen=True, kw_only=True):
    servers: tuple[PlexServer, ...]


class Library(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    title: str
    kind: str  # movie, show, movies, tvshows, …: as the server names it
    locations: tuple[str, ...] = ()


class Libraries(msgspec.Struct, frozen=True, kw_only=True):
    libraries: tuple[Library, ...]


class JellyfinCheck(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    server_name: str = ""
    version: str = ""
    problem: str = ""


class PlexCheck(msgspec.Struct, frozen=True, kw_only=True):
    """The chosen Plex server answered (its name and version), or why not: in our words, never its text."""

    ok: bool
    server_name: str = ""
    version: str = ""
    problem: str = ""


class PlexItemTaken(msgspec.Struct, frozen=True, kw_only=True):
    """What became of a webhook's item: its files, those handed to the scanner (probed next), and those
    refused (outside the media paths once mapped); ``ignored`` says why none was looked at."""

    files: int = 0
    handed: int = 0
    refused: int = 0
    ignored: str = ""


class SyncAccepted(msgspec.Struct, frozen=True, kw_only=True):
    sources: tuple[str, ...]  # the configured ones that will be synced
    already_running: bool = False


def plex_status(settings: PlexSettings) -> PlexStatus:
    return PlexStatus(
        configured=bool(settings.token),
        pin_code=settings.pin_code if settings.pin_id is not None else "",
        server_id=settings.server_id,
        server_name=settings.server_name,
        url=settings.url,
        sections=settings.sections,
        mappings=settings.mappings,
    )


def jellyfin_status(settings: JellyfinSettings) -> JellyfinStatus:
    return JellyfinStatus(
        configured=bool(settings.api_key),
        url=settings.url,
        libraries=settings.libraries,
        mappings=settings.mappings,
    )
