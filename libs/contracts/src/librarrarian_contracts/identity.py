"""What a file was when it was looked at: the scan's record, a replace's check, a commit's output."""

from __future__ import annotations

import msgspec


class FileIdentity(msgspec.Struct, frozen=True, kw_only=True):
    """What a file was when it was looked at; a replace checks it has not changed since."""

    size: int
    mtime_ns: int
    inode: int
    # Names the file has (hard links). Not part of what makes it the same file: a link made or removed
    # changes the file's ctime, not its content, size or mtime.
    links: int = 1

    def same_file(self, other: FileIdentity) -> bool:
        """The same file, unchanged: size, mtime and inode (the link count aside)."""
        return (self.size, self.mtime_ns, self.inode) == (other.size, other.mtime_ns, other.inode)
