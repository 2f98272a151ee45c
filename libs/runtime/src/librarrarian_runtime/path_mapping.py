"""Translating paths between another machine's view of the library and ours.

Plex or Jellyfin often run in a container or on another machine: ``/data/movies`` there is
``/srv/media/movies`` here; an encoder node may see the server's ``/media`` as ``/mnt/nas``. A mapping matches whole path components (``/data/movies`` never matches
``/data/movies2``), the longest prefix wins, and a path no mapping covers is taken as it is. A Windows server
(``D:\\Movies``) is matched without regard to case and its backslashes become slashes here (and back).

An encoder node combines its own ``PATH_MAPPINGS`` with the ``paths`` setting (:func:`for_node`).
"""

from __future__ import annotations

from collections.abc import Iterable

from librarrarian_contracts.settings import PathSettings, server_folder
from librarrarian_contracts.sources import PathMapping

from .env import SettingsError


def parse(raw: str, name: str = "PATH_MAPPINGS") -> tuple[PathMapping, ...]:
    """``/media=/mnt/nas,/tv=/mnt/tv``: the other side's folder, then the same folder here."""
    mappings = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        server, sep, local = part.partition("=")
        if not sep or not server.strip() or not local.strip().startswith("/"):
            raise SettingsError(f"{name}: {part!r} is not like /their/path=/our/path")
        mappings.append(PathMapping(server=server.strip(), local=local.strip()))
    return tuple(mappings)


def for_node(own: Iterable[PathMapping], shared: PathSettings, node: str) -> tuple[PathMapping, ...]:
    """The mappings a node applies: its own (``PATH_MAPPINGS``, the node's truth about its mounts), then the
    setting's mappings for this node, then those for every node. On the same server folder the first of
    these wins; otherwise all apply together and the longest matching folder decides each path."""
    layers = (
        own,
        (PathMapping(server=m.server, local=m.local) for m in shared.mappings if m.node == node),
        (PathMapping(server=m.server, local=m.local) for m in shared.mappings if m.node is None),
    )
    chosen: dict[str, PathMapping] = {}
    for layer in layers:
        for mapping in layer:
            chosen.setdefault(server_folder(mapping.server), mapping)
    return tuple(chosen.values())


def _windows(prefix: str) -> bool:
    return "\\" in prefix or (len(prefix) >= 2 and prefix[1] == ":")


def _strip(prefix: str) -> str:
    stripped = prefix.rstrip("/\\")
    return stripped or prefix[:1]  # "/" stays "/"


def _under(path: str, prefix: str, windows: bool) -> str | None:
    """The rest of ``path`` below ``prefix`` ("" for the prefix itself), or None if it lies elsewhere."""
    prefix = _strip(prefix)
    compare_path, compare_prefix = (path.lower(), prefix.lower()) if windows else (path, prefix)
    if compare_path == compare_prefix:
        return ""
    separators = ("\\", "/") if windows else ("/",)
    if prefix in ("/", "\\"):
        return path[1:] if path[:1] in separators else None
    if compare_path.startswith(compare_prefix) and path[len(prefix)] in separators:
        return path[len(prefix) + 1 :]
    return None


def _join(prefix: str, rest: str, separator: str) -> str:
    prefix = _strip(prefix)
    if not rest:
        return prefix
    return prefix + rest if prefix.endswith(separator) else f"{prefix}{separator}{rest}"


def to_local(path: str, mappings: Iterable[PathMapping]) -> str:
    """Where a path the server reports lies here."""
    best: tuple[int, str] | None = None
    for mapping in mappings:
        windows = _windows(mapping.server)
        rest = _under(path, mapping.server, windows)
        if rest is not None and (best is None or len(mapping.server) > best[0]):
            if windows:
                rest = rest.replace("\\", "/")
            best = (len(mapping.server), _join(mapping.local, rest, "/"))
    return best[1] if best is not None else path


def to_server(path: str, mappings: Iterable[PathMapping]) -> str:
    """Where one of our paths lies as the server sees it (for asking it to refresh)."""
    best: tuple[int, str] | None = None
    for mapping in mappings:
        rest = _under(path, mapping.local, windows=False)
        if rest is not None and (best is None or len(mapping.local) > best[0]):
            windows = _windows(mapping.server)
            separator = "\\" if windows else "/"
            best = (len(mapping.local), _join(mapping.server, rest.replace("/", separator), separator))
    return best[1] if best is not None else path
