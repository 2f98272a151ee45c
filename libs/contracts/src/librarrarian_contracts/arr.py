"""Sonarr, Radarr and Lidarr: their connection settings, and the arr service's request/reply endpoints through
which the gateway sets them up, tests them and hands over the apps' webhook calls.

The settings, API keys included, are kept by the arr service in its own PostgreSQL schema (like the Plex and
Jellyfin tokens in the scanner's): nothing the gateway gets back carries one, only ``configured``. The webhook
key is kept as a hash and shown once, when it is made. New fields get defaults (stored settings outlive every
version).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from .enums import ArrApp
from .sources import PathMapping

Mode = Literal["manual", "automatic"]
ScanKind = Literal["rename", "quality"]
# Why a connection test failed, for a page to word (the message says it in full).
Problem = Literal["", "unauthorized", "wrong_url", "not_arr", "timeout", "tls", "refused", "unreachable"]
MAX_WEBHOOK_BYTES = 1_000_000


# --- stored by the arr service in its own PostgreSQL schema (secrets included: the arr service's alone) --


class ArrSettings(msgspec.Struct, frozen=True, kw_only=True):
    """One app's connection and what Librarrarian does with it."""

    enabled: bool = False
    url: str = ""
    api_key: str = ""  # secret
    # manual: the app is scanned only when a user asks; automatic: also on the arr service's schedule.
    mode: Mode = "manual"
    ssl_verify: bool | None = None  # None: ARR_SSL_VERIFY decides; False for a self-signed certificate
    mappings: tuple[PathMapping, ...] = ()  # the app's folders and the same folders here
    rename_approval: bool = True  # "create rename jobs in the queue": each waits for a user's approval
    auto_rename: bool = False  # after a transcode and the app's rescan, rename the file to its scheme
    hold_below_cutoff: bool = True  # hold the transcode of a file the app is about to upgrade


class WebhookSecret(msgspec.Struct, frozen=True, kw_only=True):
    """The webhook key's SHA-256, hex: the key itself is shown once and never kept."""

    key_sha256: str = ""


# --- requests to the arr service -----------------------------------------------------------------------


class ArrSetup(msgspec.Struct, frozen=True, kw_only=True):
    app: ArrApp
    enabled: bool = True
    url: str
    api_key: str | None = None  # none: keep the stored one (only for the same server)
    mode: Mode = "manual"
    ssl_verify: bool | None = None
    mappings: tuple[PathMapping, ...] = ()
    rename_approval: bool = True
    auto_rename: bool = False
    hold_below_cutoff: bool = True


class ArrTest(msgspec.Struct, frozen=True, kw_only=True):
    app: ArrApp


class WebhookCall(msgspec.Struct, frozen=True, kw_only=True):
    """A call of an app's Connect → Webhook, as the gateway received it: the key it presented and the body."""

    app: ArrApp
    key: str
    body: Annotated[str, msgspec.Meta(max_length=MAX_WEBHOOK_BYTES)]


# --- replies (never a secret) ----------------------------------------------------------------------------


class ArrAppStatus(msgspec.Struct, frozen=True, kw_only=True):
    app: ArrApp
    configured: bool  # an API key is stored (never shown)
    enabled: bool = False
    url: str = ""
    mode: Mode = "manual"
    ssl_verify: bool = True  # as it applies: the app's switch, else ARR_SSL_VERIFY
    mappings: tuple[PathMapping, ...] = ()
    rename_approval: bool = True
    auto_rename: bool = False
    hold_below_cutoff: bool = True
    ssl_verify_switch: bool | None = None  # the app's own switch; None: ARR_SSL_VERIFY decides


class ArrStatus(msgspec.Struct, frozen=True, kw_only=True):
    apps: tuple[ArrAppStatus, ...]
    webhook_key_set: bool = False


class ArrCheck(msgspec.Struct, frozen=True, kw_only=True):
    """A connection test: the app's name and version, or why not (``problem``, said in full in ``detail``)."""

    app: ArrApp
    ok: bool
    app_name: str = ""
    version: str = ""
    problem: Problem = ""
    detail: str = ""


class WebhookKey(msgspec.Struct, frozen=True, kw_only=True):
    key: str  # shown this once; the arr service keeps only its hash


class WebhookOutcome(msgspec.Struct, frozen=True, kw_only=True):
    event: str  # the app's eventType
    detail: str = ""


def status_of(app: ArrApp, settings: ArrSettings, ssl_default: bool) -> ArrAppStatus:
    return ArrAppStatus(
        app=app,
        configured=bool(settings.api_key),
        enabled=settings.enabled,
        url=settings.url,
        mode=settings.mode,
        ssl_verify=ssl_default if settings.ssl_verify is None else settings.ssl_verify,
        mappings=settings.mappings,
        rename_approval=settings.rename_approval,
        auto_rename=settings.auto_rename,
        hold_below_cutoff=settings.hold_below_cutoff,
        ssl_verify_switch=settings.ssl_verify,
    )
