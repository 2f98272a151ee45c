"""The encoder's node-local settings, read once from the environment. What to encode and how (codec,
quality, skip rules) is shared and dynamic: the ``transcode`` key of the settings bucket."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from librarrarian_contracts import topology
from librarrarian_contracts.settings import MAX_SLOTS
from librarrarian_contracts.sources import PathMapping
from librarrarian_contracts.topology import HwClass
from librarrarian_runtime import env, path_mapping

from .playback import SameMachine

VERIFY_MODES = ("sample", "full")
HW_NAMES = ", ".join(h.value for h in HwClass)


def _classes(name: str) -> tuple[HwClass, ...]:
    raw = env.optional(name) or ""
    chosen = []
    for part in (p.strip().lower() for p in raw.split(",")):
        if not part:
            continue
        if part not in {h.value for h in HwClass}:
            raise env.SettingsError(f"{name}: {part!r} is not a hardware class ({HW_NAMES})")
        chosen.append(HwClass(part))
    return tuple(chosen)


def _slots(name: str) -> dict[HwClass, int]:
    """``2`` (every class) or ``cpu=2,nvenc=1`` (the classes not named get 1)."""
    raw = (env.optional(name) or "1").strip()
    if raw.isdigit():
        if not 1 <= int(raw) <= MAX_SLOTS:
            raise env.SettingsError(f"{name} must be from 1 to {MAX_SLOTS}, not {raw}")
        return dict.fromkeys(HwClass, int(raw))
    slots = dict.fromkeys(HwClass, 1)
    for part in raw.split(","):
        hw, sep, count = part.partition("=")
        hw = hw.strip().lower()
        if (
            not sep
            or hw not in {h.value for h in HwClass}
            or not count.strip().isdigit()
            or not 1 <= int(count) <= MAX_SLOTS
        ):
            raise env.SettingsError(f"{name} must be a number or like 'cpu=2,nvenc=1', not {raw!r}")
        slots[HwClass(hw)] = int(count)
    return slots


def _time_zone(name: str) -> ZoneInfo:
    """The node's time zone, which its schedule is read in: ``TZ`` (an IANA name such as Europe/Paris), else
    the system's (``/etc/localtime``), else UTC."""
    raw = (env.optional(name) or "").strip().removeprefix(":")
    if raw:
        try:
            return ZoneInfo(raw)
        except (ZoneInfoNotFoundError, ValueError):
            raise env.SettingsError(f"{name} must be a time zone such as Europe/Paris, not {raw!r}") from None
    with_zone = os.path.realpath("/etc/localtime").partition("/zoneinfo/")[2]
    try:
        return ZoneInfo(with_zone) if with_zone else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class Settings:
    nats_url: str
    media_paths: tuple[Path, ...]
    node: str
    slots: dict[HwClass, int] = field(  # the first-start default of the ``slots.<name>`` setting
        default_factory=lambda: dict.fromkeys(HwClass, 1)
    )
    verify: str = "sample"
    grace_seconds: float = 30.0
    # Bind to exactly these classes without the test encode (a GPU that is busy at start); empty: detect.
    hw_classes: tuple[HwClass, ...] = ()
    autostart: bool = True
    # The server's paths -> this node's. The ``paths`` setting adds to these without a restart; on the same
    # server folder these win: they are what this machine really mounts.
    path_mappings: tuple[PathMapping, ...] = ()
    time_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))  # the schedule's wall clock
    # Whether this node shares Plex's or Jellyfin's machine (the ``same_machine`` pause while streaming):
    # told by addresses unless set (a node in a container sees only its container's addresses).
    same_machine_as_media_server: SameMachine = SameMachine.AUTO

    @classmethod
    def from_env(cls) -> Settings:
        verify = env.text("VERIFY", "sample")
        if verify not in VERIFY_MODES:
            raise env.SettingsError(f"VERIFY must be 'sample' or 'full', not {verify!r}")
        media_paths = env.paths("MEDIA_PATHS", required=False)
        node = env.node_name()
        if not media_paths:
            try:  # a node without the library has a user and a store named after it
                topology.remote_node(node)
            except topology.NotARemoteNode as error:
                raise env.SettingsError(f"NODE_NAME (a node without MEDIA_PATHS): {error}") from None
        return cls(
            nats_url=env.nats_url(),
            # None: a node that sees no library, which encodes segments of other nodes' jobs only.
            media_paths=media_paths,
            node=node,
            slots=_slots("SLOTS"),
            verify=verify,
            grace_seconds=env.number("GRACE_SECONDS", 30.0, minimum=0),
            hw_classes=_classes("HW_CLASSES"),
            autostart=env.flag("AUTOSTART", True),
            path_mappings=path_mapping.parse(env.optional("PATH_MAPPINGS") or ""),
            time_zone=_time_zone("TZ"),
            same_machine_as_media_server=env.choice(
                "SAME_MACHINE_AS_MEDIA_SERVER", SameMachine, SameMachine.AUTO
            ),
        )
