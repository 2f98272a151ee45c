"""The library folders the scanner walks, from the ``scanner.folders`` setting, checked against the media
paths: which roots a full scan starts from, and which folder (and so which media type) a file belongs to.

Unset, each media path is one folder of type ``mixed``. A folder outside the media paths is dropped with a
log line rather than scanned; a ``none`` folder is never walked, and neither is anything below it unless a
more specific folder inside it has a type of its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from librarrarian_contracts.settings import LibraryFolder, MediaType, ScannerFolders
from librarrarian_runtime.media_paths import OutsideMediaPaths, contain

log = logging.getLogger(__name__)

IGNORED = "none"
DEFAULT_TYPE: MediaType = "mixed"


@dataclass(frozen=True)
class Folder:
    path: Path  # resolved, inside the media paths
    type: MediaType


class Folders:
    """One resolved set of library folders; a new setting makes a new one (scans in flight keep theirs)."""

    def __init__(self, folders: tuple[Folder, ...]) -> None:
        # Most specific first, so the first folder holding a path is its own.
        self.folders = tuple(sorted(folders, key=lambda f: len(f.path.parts), reverse=True))
        self._prefixes = tuple((str(f.path), str(f.path).rstrip("/") + "/", f) for f in self.folders)

    @classmethod
    def resolve(cls, setting: ScannerFolders, media_paths: tuple[Path, ...]) -> Folders:
        chosen = setting.folders or tuple(LibraryFolder(path=str(m), type=DEFAULT_TYPE) for m in media_paths)
        kept: dict[Path, Folder] = {}
        for folder in chosen:
            try:
                path = contain(folder.path, media_paths)
            # RuntimeError: a symlink loop; OSError: a name too long; ValueError: not a path at all (a NUL
            # byte). A bad folder in the setting is left out, never a reason to stop the scanner.
            except (OutsideMediaPaths, RuntimeError, OSError, ValueError) as error:
                log.error("library folder %r left out: %s", folder.path, error)
                continue
            kept[path] = Folder(path, folder.type)
        return cls(tuple(kept.values()))

    def folder_of(self, path: Path | str) -> Folder | None:
        """The most specific folder holding ``path``, or None when no folder does."""
        text = str(path)
        for exact, prefix, folder in self._prefixes:
            if text == exact or text.startswith(prefix):
                return folder
        return None

    def scanned(self, path: Path | str) -> Folder | None:
        """The folder ``path`` is scanned as, or None when it lies in no folder or in a ``none`` one."""
        folder = self.folder_of(path)
        return folder if folder is not None and folder.type != IGNORED else None

    def roots(self) -> tuple[Path, ...]:
        """Where a full scan starts: every folder that is scanned, shallowest first. A folder nested in
        another is walked as part of it (the walk visits a directory once), unless a ``none`` folder lies
        between them, which the walk does not enter."""
        return tuple(sorted((f.path for f in self.folders if f.type != IGNORED), key=lambda p: len(p.parts)))
