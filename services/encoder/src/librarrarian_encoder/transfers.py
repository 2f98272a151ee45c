"""Files that travel between encoder nodes as pieces of a job, through an object store: a segment's output
on its way to the node that joins them, or a source for a node that cannot see the library. The library's
nodes share ``transfers``; a node without the library reaches only a store of its own, ``transfers-<node>``.

JetStream keeps each file in chunks with its SHA-256; a download checks it, so a file arrives whole or not at
all. Every transfer is bounded (``limit``: a file larger is refused before a byte moves) and named by its job,
attempt and piece (``name``), so a job removes what it moved once it is done with it (``remove_job``), and a
crash's leftovers expire with the store's age limit (``topology.TRANSFERS``).

A download is written only where this node chose: a new file in a private folder of its own, created with
``O_EXCL`` and never through a symlink, whatever the object's name says. A link to another object (or store)
is refused, not followed."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

from librarrarian_contracts import topology
from nats.js import JetStreamContext
from nats.js.api import ObjectInfo, ObjectMeta
from nats.js.errors import NotFoundError, ObjectDeletedError, ObjectNotFoundError

PIECE = re.compile(r"[a-z0-9][a-z0-9.-]{0,63}")
# The library's nodes share one store; a node without the library has one of its own
# (``topology.remote_store``), which the library's nodes reach too. Every function takes the store's name.
SHARED = topology.TRANSFERS.name
NOTE_LIMIT = 64 * 1024


def stream_of(store: str) -> str:
    return f"OBJ_{store}"


def entries(store: str) -> str:
    """Where the store's entries are announced, one subject per object (``$O.<store>.M.<base64 name>``)."""
    return f"$O.{store}.M."


class TransferError(Exception):
    """A transfer refused or failed: too large, missing, a link, or a checksum that did not match."""


def name(job_id: int, attempt: int, piece: str) -> str:
    """The object's name for one piece of one attempt of a job (``piece``: letters, digits, dots, dashes)."""
    if not PIECE.fullmatch(piece):
        raise ValueError(f"not a piece name: {piece!r}")
    return f"job-{job_id}/attempt-{attempt}/{piece}"


async def upload(
    js: JetStreamContext,
    object_name: str,
    fd: int,
    *,
    limit: int,
    description: str | None = None,
    store: str = SHARED,
) -> int:
    """Store the file open at ``fd`` (read from its start, not moved) under ``object_name``; its size.
    ``description``: what the object's entry says of it (the node that made it)."""
    size = os.fstat(fd).st_size
    if size > limit:
        raise TransferError(f"{object_name}: {size:,} bytes is over the transfer limit of {limit:,}")
    bucket = await js.object_store(store)
    reader = _Reader(fd)
    meta = ObjectMeta(name=object_name, description=description)
    try:
        info = await bucket.put(object_name, reader, meta=meta)  # type: ignore[arg-type]
    finally:
        reader.close()
    if info.size != size:
        raise TransferError(f"{object_name}: {info.size:,} bytes stored of {size:,}")
    return size


async def put_note(js: JetStreamContext, object_name: str, text: str, *, store: str = SHARED) -> None:
    """A small object whose presence says something to the job's other nodes (a plan, a failure's reason)."""
    bucket = await js.object_store(store)
    await bucket.put(object_name, text.encode()[:NOTE_LIMIT])


async def read_note(js: JetStreamContext, object_name: str, *, store: str = SHARED) -> str | None:
    """A note's text; None when there is none (never written, or removed with its job)."""
    bucket = await js.object_store(store)
    try:
        info = await bucket.get_info(object_name)
    except (ObjectNotFoundError, ObjectDeletedError, NotFoundError):
        return None
    if info.deleted or info.is_link() or (info.size or 0) > NOTE_LIMIT:
        return None
    received = bytearray()
    async for data in _chunks(js, info, store):
        received += data
        if len(received) > NOTE_LIMIT:
            return None
    return received.decode(errors="replace")


async def present(js: JetStreamContext, object_name: str, *, store: str = SHARED) -> bool:
    """Whether the store holds ``object_name`` whole (a put writes its entry after its last chunk)."""
    bucket = await js.object_store(store)
    try:
        info = await bucket.get_info(object_name)
    except (ObjectNotFoundError, ObjectDeletedError, NotFoundError):
        return False
    return not info.deleted


async def download(
    js: JetStreamContext, object_name: str, folder: Path, local: str, *, limit: int, store: str = SHARED
) -> Path:
    """Fetch ``object_name`` into a new file ``local`` of ``folder`` (this node's own); its path. Nothing is
    left of a download that failed."""
    bucket = await js.object_store(store)
    try:
        info = await bucket.get_info(object_name)
    except (ObjectNotFoundError, ObjectDeletedError, NotFoundError) as error:
        raise TransferError(f"{object_name}: not in the transfer store") from error
    if info.is_link():
        raise TransferError(f"{object_name}: a link to another object; not followed")
    if (info.size or 0) > limit:
        raise TransferError(f"{object_name}: {info.size:,} bytes is over the transfer limit of {limit:,}")
    if not PIECE.fullmatch(local):
        raise ValueError(f"not a local name: {local!r}")
    target = folder / local
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    done = False
    try:
        await _receive(js, object_name, info, fd, store)
        done = True
    finally:
        os.close(fd)
        if not done:
            with contextlib.suppress(OSError):
                target.unlink()
    return target


async def _receive(js: JetStreamContext, object_name: str, info: ObjectInfo, fd: int, store: str) -> None:
    """The object's chunks, in order, into ``fd``, checked against its size and SHA-256. Read through a
    consumer on the store's own stream (the client's ``get`` would look the stream up by subject, which
    the encoder's user may not ask)."""
    size, received, digest = info.size or 0, 0, hashlib.sha256()
    async for data in _chunks(js, info, store):
        received += len(data)
        if received > size:
            raise TransferError(f"{object_name}: more bytes than its {size:,}")
        digest.update(data)
        await asyncio.to_thread(os.write, fd, data)
    expected = (info.digest or "").removeprefix("SHA-256=").removeprefix("sha-256=")
    if received != size or base64.urlsafe_b64encode(digest.digest()).decode() != expected:
        raise TransferError(f"{object_name}: its checksum does not match ({received:,} of {size:,} bytes)")
    await asyncio.to_thread(os.fsync, fd)


async def _chunks(js: JetStreamContext, info: ObjectInfo, store: str) -> AsyncIterator[bytes]:
    """The object's chunks in order, through an ordered consumer on the store's own stream."""
    if not info.size:
        return
    subject = f"$O.{store}.C.{info.nuid}"
    sub = await js.subscribe(subject, stream=stream_of(store), ordered_consumer=True)
    try:
        async for msg in sub.messages:
            yield msg.data
            if msg.metadata.num_pending == 0:
                break
    finally:
        await sub.unsubscribe()


async def names(js: JetStreamContext, *, store: str = SHARED) -> list[str]:
    """The names of the objects in the store now, removed ones aside. They come from the stream's list of
    subjects: no consumer is left behind."""
    bucket = await js.object_store(store)
    prefix = entries(store)
    state = (await js.stream_info(stream_of(store), subjects_filter=f"{prefix}>")).state
    found = []
    for subject in state.subjects or {}:
        object_name = base64.urlsafe_b64decode(subject[len(prefix) :]).decode(errors="replace")
        with contextlib.suppress(ObjectNotFoundError, ObjectDeletedError, NotFoundError):
            if not (await bucket.get_info(object_name)).deleted:
                found.append(object_name)
    return found


async def remove_job(js: JetStreamContext, job_id: int, *, store: str = SHARED) -> int:
    """Remove every piece of every attempt of ``job_id``; how many. Missing ones are no error."""
    bucket = await js.object_store(store)
    removed = 0
    for object_name in await names(js, store=store):
        if object_name.startswith(f"job-{job_id}/"):
            with contextlib.suppress(ObjectNotFoundError, ObjectDeletedError, NotFoundError):
                await bucket.delete(object_name)
                removed += 1
    return removed


class _Reader(io.RawIOBase):
    """The file at ``fd`` from its start, through a descriptor of its own (``fd``'s offset is not moved)."""

    def __init__(self, fd: int) -> None:
        self._fd = os.dup(fd)
        self._at = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = os.pread(self._fd, len(buffer), self._at)
        buffer[: len(data)] = data
        self._at += len(data)
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = os.fstat(self._fd).st_size - self._at
        data = os.pread(self._fd, size, self._at)
        self._at += len(data)
        return data

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()
