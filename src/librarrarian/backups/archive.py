"""The backup file: one uncompressed tar (the dump is compressed already) holding ``manifest.json`` first, then
``database.dump`` (``pg_dump --format=custom`` of every service schema) and ``settings.json`` (the settings
bucket's values). The manifest names the format, the versions and each member's SHA-256 and size.

:func:`open_checked` reads a file whole before anything is restored from it: a file that is not a tar, is
cut short, holds anything unexpected, fails a checksum or comes from a newer version is refused with
:class:`BackupRefused` and a message that says why.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import tarfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

FORMAT = "librarrarian-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATABASE = "database.dump"
SETTINGS = "settings.json"
MEMBERS = (DATABASE, SETTINGS)
MANIFEST_LIMIT = 1 << 20
# A backup's name in the backup folder: nothing else is listed, served or restored from there.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}\.tar$")


class BackupRefused(Exception):
    """The file cannot be restored; the message says why. Nothing was changed."""


class Member(msgspec.Struct, frozen=True, kw_only=True):
    sha256: str
    size: int


class Manifest(msgspec.Struct, frozen=True, kw_only=True):
    format: str
    format_version: int
    app_version: str
    created_at: datetime
    schemas: dict[str, int]  # schema -> newest migration applied when it was dumped
    postgres_version: str
    files: dict[str, Member]


@dataclass(frozen=True)
class Checked:
    """A backup file that passed every check, unpacked into ``folder`` (the caller's temporary one)."""

    manifest: Manifest
    database: Path
    settings: dict[str, str]


def digest(path: Path) -> Member:
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            sha.update(chunk)
            size += len(chunk)
    return Member(sha256=sha.hexdigest(), size=size)


def write(target: Path, manifest: Manifest, members: dict[str, Path]) -> None:
    """Write the backup file: to a hidden partial name first, mode 0600 (it holds the Plex and Jellyfin
    tokens and the users' password hashes), fsynced, then renamed into place."""
    partial = target.with_name(f".{target.name}.partial")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            with tarfile.open(fileobj=handle, mode="w", format=tarfile.PAX_FORMAT) as tar:
                data = msgspec.json.format(msgspec.json.encode(manifest))
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mode, info.mtime = len(data), 0o600, int(manifest.created_at.timestamp())
                tar.addfile(info, io.BytesIO(data))
                for name in MEMBERS:
                    info = tar.gettarinfo(str(members[name]), arcname=name)
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    with members[name].open("rb") as source:
                        tar.addfile(info, source)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def read_manifest(path: Path) -> Manifest:
    """The manifest alone (for listing): no checksums are checked."""
    try:
        with tarfile.open(path, mode="r:") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isfile() or first.size > MANIFEST_LIMIT:
                raise BackupRefused(f"{path.name} is not a Librarrarian backup (no manifest first)")
            handle = tar.extractfile(first)
            assert handle is not None
            return _manifest(handle.read(), path.name)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise BackupRefused(f"{path.name} is not a readable backup file: {error}") from None


def open_checked(path: Path, folder: Path, newest: dict[str, int]) -> Checked:
    """Unpack ``path`` into ``folder`` and check everything: format, members, sizes, checksums, and that
    no schema is newer than this version's migrations (``newest``: schema -> highest migration)."""
    manifest = read_manifest(path)
    if manifest.format != FORMAT:
        raise BackupRefused(f"{path.name} is not a Librarrarian backup (format {manifest.format!r})")
    if manifest.format_version > FORMAT_VERSION:
        raise BackupRefused(
            f"{path.name} has backup format {manifest.format_version}; this version reads up to "
            f"{FORMAT_VERSION}: restore it with a newer Librarrarian"
        )
    unknown = set(manifest.schemas) - set(newest)
    if unknown:
        raise BackupRefused(
            f"{path.name} holds schemas this version does not know: {', '.join(sorted(unknown))}"
        )
    for schema, version in manifest.schemas.items():
        if version > newest[schema]:
            raise BackupRefused(
                f"{path.name} was made by a newer Librarrarian ({manifest.app_version}): its {schema} schema is at "
                f"migration {version}, this version knows up to {newest[schema]}"
            )
    if set(manifest.files) != set(MEMBERS):
        raise BackupRefused(
            f"{path.name}: the manifest lists {sorted(manifest.files)}, expected {list(MEMBERS)}"
        )
    seen: set[str] = set()
    try:
        with tarfile.open(path, mode="r:") as tar:
            for index, info in enumerate(tar):
                if index == 0:
                    continue  # the manifest, read above
                if info.name not in MEMBERS or info.name in seen or not info.isfile():
                    raise BackupRefused(f"{path.name} holds an unexpected entry {info.name!r}")
                expected = manifest.files[info.name]
                if info.size != expected.size:
                    raise BackupRefused(
                        f"{path.name}: {info.name} has {info.size} bytes, the manifest says {expected.size}"
                    )
                source = tar.extractfile(info)
                assert source is not None
                target = folder / info.name
                with source, target.open("wb") as out:
                    while chunk := source.read(1 << 20):
                        out.write(chunk)
                if digest(target) != expected:
                    raise BackupRefused(
                        f"{path.name}: {info.name} does not match its checksum (the file is damaged)"
                    )
                seen.add(info.name)
    except (tarfile.TarError, EOFError) as error:
        raise BackupRefused(f"{path.name} is damaged or cut short: {error}") from None
    missing = set(MEMBERS) - seen
    if missing:
        raise BackupRefused(f"{path.name} is cut short: {', '.join(sorted(missing))} missing")
    return Checked(manifest, folder / DATABASE, _settings((folder / SETTINGS).read_bytes(), path.name))


def _manifest(data: bytes, name: str) -> Manifest:
    try:
        return msgspec.json.decode(data, type=Manifest)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise BackupRefused(f"{name} is not a Librarrarian backup (its manifest: {error})") from None


def settings_document(values: dict[str, str]) -> bytes:
    return json.dumps({"settings": values}, indent=2, sort_keys=True).encode()


def _settings(data: bytes, name: str) -> dict[str, str]:
    try:
        document: Any = json.loads(data)
        values = document["settings"]
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise TypeError("not a mapping of text")
        for value in values.values():
            json.loads(value)  # each is a setting's JSON, as the bucket holds it
    except (ValueError, KeyError, TypeError) as error:
        raise BackupRefused(f"{name}: its settings cannot be read ({error})") from None
    return dict(values)
