"""Containment: every path that enters the system must lie inside ``MEDIA_PATHS``."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


class OutsideMediaPaths(ValueError):
    """The path (after resolving symlinks and ``..``) is not inside any media path."""


def contain(path: str | os.PathLike[str], roots: Iterable[Path]) -> Path:
    """Return the resolved path, or raise if it escapes every root (or is no path at all: a NUL byte)."""
    if "\x00" in os.fspath(path):
        raise OutsideMediaPaths(f"{os.fspath(path)!r} is not a path: it holds a NUL byte")
    resolved = Path(path).resolve()
    for root in roots:
        if resolved == root or resolved.is_relative_to(root):
            return resolved
    raise OutsideMediaPaths(f"{path} is outside the media paths")


def is_contained(path: str | os.PathLike[str], roots: Iterable[Path]) -> bool:
    try:
        contain(path, roots)
    except OutsideMediaPaths:
        return False
    return True
