"""Path mappings: the library is ``/media`` on the server and ``/mnt/nas`` on this node.

Jobs carry the server's paths; a node maps them in before touching a file and out again in what it reports,
so every other service sees one name per file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from librarrarian_runtime import env


@dataclass(frozen=True)
class PathMap:
    pairs: tuple[tuple[str, str], ...] = ()  # (server prefix, local prefix)

    @classmethod
    def parse(cls, raw: str, name: str = "PATH_MAPPINGS") -> PathMap:
        """``/media=/mnt/nas,/tv=/mnt/tv``."""
        pairs = []
        for part in (p.strip() for p in raw.split(",")):
            if not part:
                continue
            server, sep, local = part.partition("=")
            if not sep or not server.startswith("/") or not local.startswith("/"):
                raise env.SettingsError(f"{name}: {part!r} is not like /server/path=/local/path")
            pairs.append((server.rstrip("/") or "/", local.rstrip("/") or "/"))
        # The longest prefix wins: /media/tv=/x before /media=/y.
        pairs.sort(key=lambda pair: len(pair[0]), reverse=True)
        return cls(tuple(pairs))

    def to_local(self, path: str) -> str:
        return _swap(path, [(s, lo) for s, lo in self.pairs])

    def to_server(self, path: str) -> str:
        return _swap(path, sorted(((lo, s) for s, lo in self.pairs), key=lambda p: len(p[0]), reverse=True))


def _swap(path: str, pairs: list[tuple[str, str]]) -> str:
    pure = PurePosixPath(path)
    for old, new in pairs:
        if pure == PurePosixPath(old) or PurePosixPath(old) in pure.parents:
            return str(PurePosixPath(new) / pure.relative_to(old))
    return path
