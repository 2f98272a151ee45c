"""A folder outside the library, and everything done to it while a test runs: it or a file in it opened,
read, written, created, changed, moved or deleted (seen by inotify, as it happens), and how its entries
differ from before (content, mode, owner, kind, a symlink's target). What a hostile library must never get a
service to do."""

from __future__ import annotations

import ctypes
import hashlib
import os
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path

# inotify(7): every event on a watched folder's entries, and on the folder itself.
EVENTS = {
    0x001: "read",
    0x002: "written",
    0x004: "changed (metadata)",
    0x008: "closed after writing",
    0x020: "opened",
    0x040: "moved away",
    0x080: "moved in",
    0x100: "created",
    0x200: "deleted",
    0x400: "folder deleted",
    0x800: "folder moved",
}
_HEADER = struct.Struct("iIII")


@dataclass
class Outside:
    """Watches ``root`` and its folders from ``start()`` on; ``touched()`` says what happened since it was
    last asked."""

    root: Path
    _fd: int = -1
    _folders: dict[int, Path] = field(default_factory=dict)
    _before: dict[str, tuple[object, ...]] = field(default_factory=dict)

    def start(self) -> Outside:
        self._before = self.state()
        libc = ctypes.CDLL(None, use_errno=True)
        self._fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        for folder in [self.root, *(p for p in self.root.rglob("*") if p.is_dir() and not p.is_symlink())]:
            wd = libc.inotify_add_watch(self._fd, os.fsencode(folder), sum(EVENTS))
            if wd < 0:
                raise OSError(ctypes.get_errno(), f"inotify_add_watch {folder}")
            self._folders[wd] = folder
        return self

    def stop(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Outside:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def events(self) -> list[str]:
        """What happened in the folder since the last call, one line per event (drained)."""
        seen: list[str] = []
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return seen
            offset = 0
            while offset < len(data):
                wd, mask, _, length = _HEADER.unpack_from(data, offset)
                offset += _HEADER.size
                name = data[offset : offset + length].rstrip(b"\0").decode(errors="replace")
                offset += length
                what = ", ".join(text for bit, text in EVENTS.items() if mask & bit)
                seen.append(f"{self._folders.get(wd, self.root) / name}: {what}")

    def state(self) -> dict[str, tuple[object, ...]]:
        """Every entry under the root, by path: kind, mode, owner, size, mtime, and a file's content hash."""
        found: dict[str, tuple[object, ...]] = {}
        for path in [self.root, *self.root.rglob("*")]:
            st = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if stat.S_ISREG(st.st_mode) else None
            target = os.readlink(path) if path.is_symlink() else None
            found[str(path)] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, digest, target)
        return found

    def touched(self) -> list[str]:
        """Everything done to the folder since ``start()`` or the last call: the events, then every entry
        that differs."""
        happened = self.events()  # first: the reads below for the hashes are the test's own
        now = self.state()
        self.events()  # those reads, dropped
        for path in sorted(set(self._before) | set(now)):
            if path not in now:
                happened.append(f"{path}: gone")
            elif path not in self._before:
                happened.append(f"{path}: new")
            elif now[path] != self._before[path]:
                happened.append(f"{path}: different (was {self._before[path]}, now {now[path]})")
        self._before = now
        return happened
