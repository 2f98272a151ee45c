"""Putting a verified output in the original's place without ever losing the file (architecture §3.4).

The output is created beside the original (same file system, so the rename is atomic) under a new name
nobody can guess, as a new file or not at all; ffmpeg writes it through our descriptor. It is flushed,
verified, and only then renamed over the original, after the original, the output and the folder were
checked once more. When the container changes (``.avi`` → ``.mkv``), the new file is in place before the
original is unlinked. A crash at any step leaves the original, or a verified output, or both. Every name is
used relative to the job's open folder (``folder.py``), so nothing planted in the library redirects a step.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from librarrarian_contracts import FileIdentity
from librarrarian_runtime import recycle

from . import failpoints
from .folder import Folder, Redirected

TEMP_PREFIX = ".tmp_librarrarian-"  # what the scanner skips and the cleanup service recognises
# Room left in a name (255 bytes on every common file system) for the prefix, job id, token and suffix.
STEM_BYTES = 160
CREATE_TRIES = 8


class SourceChanged(Exception):
    """The original is not the file the job was planned for (edited, replaced, or already transcoded)."""


class WouldOverwrite(Exception):
    """The output's final name belongs to another file."""


class OutputMoved(Exception):
    """The temporary output's name does not hold the file ffmpeg wrote any more: the output is not put
    in place (someone renamed or swapped it; the original is kept)."""


class HardLinked(Exception):
    """The original has other names (hard links) and replacing such a file was not allowed."""


def hard_linked(links: int) -> str:
    """Why a file with other names is left alone."""
    return f"hard-linked: {links} links; replacing one keeps the old data alive through the others"


class NotKept(Exception):
    """The original was to go to the recycle folder and could not: it stays in place, the output is discarded."""


# Keeps the original (folder descriptor, its name, its stat, the output's final name, the output's identity)
# in the recycle folder before the output takes its name: ``recycle.keep`` with the job's details bound.
Keeper = Callable[[int, str, os.stat_result, str, FileIdentity], str]


class BothKept(Exception):
    """The original changed between its output taking its place beside it and its removal: both stay."""


@dataclass(frozen=True)
class Output:
    """The temporary output: its name in the folder, and the descriptor ffmpeg writes it through."""

    name: str
    fd: int


def temp_name(job_id: int, token: str, stem: str, suffix: str) -> str:
    """``.tmp_librarrarian-<job>-<token>-<stem><suffix>``: the job and the file for people who find it (and
    the job's next attempt, which removes what an earlier one left: ``earlier.py``), the token so that
    nobody can plant something at the name first. A retry recognises its own verified output in place by
    the ``LIBRARRARIAN_JOB`` tag inside it, never by a name."""
    return f"{TEMP_PREFIX}{job_id}-{token}-{shortened(stem)}{suffix}"


def shortened(stem: str) -> str:
    """The part of the original's stem an output's name carries."""
    return os.fsdecode(os.fsencode(stem)[:STEM_BYTES])


def new_token() -> str:
    return secrets.token_hex(8)


def create_output(folder: Folder, job_id: int, stem: str, suffix: str) -> Output:
    """The temporary output: a new, empty file of ours. A name someone took first is left alone and
    another drawn."""
    for _ in range(CREATE_TRIES):
        name = temp_name(job_id, new_token(), stem, suffix)
        with contextlib.suppress(FileExistsError):
            return Output(name, folder.create(name))
    raise FileExistsError(f"no free name for the output beside {stem}{suffix} in {CREATE_TRIES} tries")


def final_path(source: Path, suffix: str) -> Path:
    return source if suffix == source.suffix else source.with_suffix(suffix)


def identity(st: os.stat_result) -> FileIdentity:
    return FileIdentity(size=st.st_size, mtime_ns=st.st_mtime_ns, inode=st.st_ino, links=st.st_nlink)


def check_target(folder: Folder, source: str, final: str) -> None:
    """The final name, when it is not the original's, must be free: a file, or a symlink, there is someone's."""
    if final != source and folder.lstat(final) is not None:
        raise WouldOverwrite(f"{final} already exists beside {source}; not overwriting it")


def check_source(folder: Folder, source: str, expected: FileIdentity) -> os.stat_result:
    """The original, still the regular file the job was planned for, in a folder still where it was."""
    if not folder.still_reached():
        raise Redirected(f"{folder.path} was moved or replaced since the job started; original kept")
    st = folder.lstat(source)
    if st is None or not stat.S_ISREG(st.st_mode) or not identity(st).same_file(expected):
        raise SourceChanged(f"{source} changed since it was scanned")
    return st


def adopt_permissions(output: int, original: os.stat_result) -> None:
    """The output gets the original's owner (where allowed) and permission bits, set on the file we opened:
    no name is followed. Set-user-ID and set-group-ID bits are not carried over (a video has no use for
    them, and the output is ours until the chown)."""
    with contextlib.suppress(PermissionError):  # not root: the file stays ours, as any file we create
        os.fchown(output, original.st_uid, original.st_gid)
    os.fchmod(output, stat.S_IMODE(original.st_mode) & 0o1777)


def replace(
    folder: Folder,
    source: str,
    output: Output,
    final: str,
    expected: FileIdentity,
    *,
    hard_links: bool = False,
    keep: Keeper | None = None,
) -> int:
    """The verified output takes the name ``final``; the original ``source`` goes when that is another
    name. Everything is checked once more just before the rename, the original's other names too (a link
    made since the scan): ``HardLinked`` unless ``hard_links`` allows them. With ``keep``, the original
    gets a second name in the recycle folder first (``NotKept`` when it cannot: nothing replaced), so it
    outlives the rename. The original's link count."""
    original = check_source(folder, source, expected)
    if original.st_nlink > 1 and not hard_links:
        raise HardLinked(hard_linked(original.st_nlink))
    check_target(folder, source, final)
    if not folder.holds(output.name, output.fd):
        raise OutputMoved(f"{output.name} is not the output written any more; original kept")
    adopt_permissions(output.fd, original)
    os.fsync(output.fd)  # the owner and mode, with the data flushed before verification
    if keep is not None:
        try:
            keep(folder.fd, source, original, final, identity(os.fstat(output.fd)))
        except (recycle.Unavailable, OSError) as error:
            raise NotKept(f"the original could not be kept in the recycle folder: {error}") from None
        failpoints.reach("after-recycle")
    folder.rename(output.name, final)
    folder.fsync()
    failpoints.reach("after-rename")
    if final != source:
        remove_original(folder, source, expected)
    return original.st_nlink


def remove_original(folder: Folder, source: str, expected: FileIdentity) -> None:
    """Unlink the original beside its output in place, if it is still the file planned: checked just before."""
    st = folder.lstat(source)
    if st is None or not identity(st).same_file(expected):
        raise BothKept(f"{source} changed while its output was put in place beside it; both kept")
    folder.unlink(source)
    folder.fsync()


def finish(folder: Folder, source: str, expected: FileIdentity) -> None:
    """An earlier attempt put its verified output in place and died before removing the original:
    remove it now, if it is still the file the job was planned for."""
    check_source(folder, source, expected)
    remove_original(folder, source, expected)


def discard(folder: Folder, output: Output) -> None:
    """Remove what is left of an output that did not take the original's place (only if its name still
    holds it: whatever someone put there instead is not ours to delete), and close it."""
    try:
        if folder.holds(output.name, output.fd):
            folder.unlink(output.name)
    finally:
        os.close(output.fd)
