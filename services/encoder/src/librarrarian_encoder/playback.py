"""Whether this node pauses because someone is watching: the ``streaming`` setting (off, same machine, all)
applied to what the scanner last said in the ``playback`` bucket. Pure: the node (``node``) follows it.

"Same machine" is known by addresses (see ``librarrarian_runtime.machine``): the server's machine's addresses,
as the scanner resolved them, against this node's interfaces. ``SAME_MACHINE_AS_MEDIA_SERVER`` overrides it
(``yes`` for a node in a container on the server's host, which sees only its container's addresses; ``no``).
"""

from __future__ import annotations

from enum import StrEnum

from librarrarian_contracts.settings import StreamingSettings
from librarrarian_contracts.sources import JELLYFIN, PLEX
from librarrarian_contracts.views import ActivePlayback, PlaybackState

NAMES = {PLEX: "Plex", JELLYFIN: "Jellyfin"}


class SameMachine(StrEnum):
    """``SAME_MACHINE_AS_MEDIA_SERVER``: whether this node shares the media server's machine."""

    AUTO = "auto"  # by addresses
    YES = "yes"
    NO = "no"


def shares_machine(server: ActivePlayback, own: frozenset[str], setting: SameMachine) -> bool:
    if setting is not SameMachine.AUTO:
        return setting is SameMachine.YES
    return not own.isdisjoint(server.addresses)


def pause_reason(
    streaming: StreamingSettings,
    state: PlaybackState,
    *,
    fresh: bool,
    own: frozenset[str],
    same_machine: SameMachine,
) -> str:
    """Why this node is to pause now ("someone is watching on Plex"), or "" when it is not. A state the
    scanner has not rewritten lately (``fresh`` false: it stopped) counts as nobody watching."""
    mode = streaming.pause_while_streaming
    if mode == "off" or not fresh:
        return ""
    watched = [p for p in state.playing if mode == "all" or shares_machine(p, own, same_machine)]
    names = sorted({NAMES.get(p.source, p.source) for p in watched})
    return f"someone is watching on {' and '.join(names)}" if names else ""
