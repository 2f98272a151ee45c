"""Files between nodes through the ``transfers`` object store, on a real NATS server: a real clip goes up and
comes back byte for byte; what is over the limit, missing, tampered with or a link is refused with nothing
left behind; a download never writes through a symlink or over a file; a job removes its own pieces only."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import pytest
from librarrarian_contracts import topology
from librarrarian_encoder import transfers
from nats.aio.client import Client
from nats.js import JetStreamContext

LIMIT = 64 * 1024 * 1024


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def up(js: JetStreamContext, name: str, path: Path, limit: int = LIMIT) -> int:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.lseek(fd, 100, os.SEEK_SET)  # the caller's offset: the upload reads from the start regardless
        size = await transfers.upload(js, name, fd, limit=limit)
        assert os.lseek(fd, 0, os.SEEK_CUR) == 100
        return size
    finally:
        os.close(fd)


async def test_a_clip_goes_up_and_comes_back_whole(
    bus: tuple[Client, JetStreamContext], shared_media: Path, tmp_path: Path
) -> None:
    _, js = bus
    clip = shared_media / "bigbuckbunny.mp4"
    name = transfers.name(7, 1, "segment-0003")
    assert await up(js, name, clip) == clip.stat().st_size
    fetched = await transfers.download(js, name, tmp_path, "segment-0003.mkv", limit=LIMIT)
    assert fetched == tmp_path / "segment-0003.mkv"
    assert digest(fetched) == digest(clip) and fetched.stat().st_mode & 0o777 == 0o600


async def test_a_file_over_the_limit_is_refused_before_a_byte_moves(
    bus: tuple[Client, JetStreamContext], shared_media: Path, tmp_path: Path
) -> None:
    _, js = bus
    clip = shared_media / "bikes.mp4"
    with pytest.raises(transfers.TransferError, match="over the transfer limit"):
        await up(js, transfers.name(8, 1, "source"), clip, limit=1024)
    store = await js.object_store(topology.TRANSFERS.name)
    assert (await store.status()).size == 0  # nothing stored
    await up(js, transfers.name(8, 1, "source"), clip)
    with pytest.raises(transfers.TransferError, match="over the transfer limit"):
        await transfers.download(js, transfers.name(8, 1, "source"), tmp_path, "source.mp4", limit=1024)
    assert os.listdir(tmp_path) == []


async def test_missing_and_tampered_pieces_are_refused_with_nothing_left(
    bus: tuple[Client, JetStreamContext], shared_media: Path, tmp_path: Path
) -> None:
    _, js = bus
    with pytest.raises(transfers.TransferError, match="not in the transfer store"):
        await transfers.download(js, transfers.name(9, 1, "gone"), tmp_path, "gone.mkv", limit=LIMIT)
    name = transfers.name(9, 1, "segment-0000")
    await up(js, name, shared_media / "bikes.mp4")
    store = await js.object_store(topology.TRANSFERS.name)
    info = await store.get_info(name)
    # Someone appends a chunk of their own to the piece: its checksum no longer matches.
    await js.publish(f"$O.{topology.TRANSFERS.name}.C.{info.nuid}", b"not ours")
    with pytest.raises(transfers.TransferError):
        await transfers.download(js, name, tmp_path, "segment-0000.mkv", limit=LIMIT)
    assert os.listdir(tmp_path) == []


async def test_a_link_to_another_object_is_not_followed(
    bus: tuple[Client, JetStreamContext], shared_media: Path, tmp_path: Path
) -> None:
    _, js = bus
    secret = transfers.name(10, 1, "source")
    await up(js, secret, shared_media / "bikes.mp4")
    store = await js.object_store(topology.TRANSFERS.name)
    # A description that points at another object, as the object store's links do.
    linked = await store.get_info(secret)
    meta = {
        "name": transfers.name(11, 1, "source"),
        "bucket": topology.TRANSFERS.name,
        "nuid": "LINKNUID",
        "size": 0,
        "chunks": 0,
        "options": {"link": {"bucket": topology.TRANSFERS.name, "name": linked.name}},
    }
    encoded = base64.urlsafe_b64encode(meta["name"].encode()).decode()
    await js.publish(f"$O.{topology.TRANSFERS.name}.M.{encoded}", json.dumps(meta).encode())
    with pytest.raises(transfers.TransferError, match="a link"):
        await transfers.download(js, str(meta["name"]), tmp_path, "source.mp4", limit=LIMIT)
    assert os.listdir(tmp_path) == []


async def test_a_download_never_writes_through_a_symlink_or_over_a_file(
    bus: tuple[Client, JetStreamContext], shared_media: Path, tmp_path: Path
) -> None:
    _, js = bus
    name = transfers.name(12, 1, "segment-0001")
    await up(js, name, shared_media / "bikes.mp4")
    precious = tmp_path / "precious.mkv"
    precious.write_bytes(b"someone's")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "planted.mkv").symlink_to(precious)
    (scratch / "there.mkv").write_bytes(b"already here")
    for local in ("planted.mkv", "there.mkv"):
        with pytest.raises(FileExistsError):
            await transfers.download(js, name, scratch, local, limit=LIMIT)
    assert precious.read_bytes() == b"someone's" and (scratch / "there.mkv").read_bytes() == b"already here"
    for local in ("../escape.mkv", "a/b.mkv", ".hidden"):
        with pytest.raises(ValueError):
            await transfers.download(js, name, scratch, local, limit=LIMIT)
    with pytest.raises(ValueError):
        transfers.name(12, 1, "../../other")


async def test_a_job_removes_its_own_pieces_only(
    bus: tuple[Client, JetStreamContext], shared_media: Path, tmp_path: Path
) -> None:
    _, js = bus
    clip = shared_media / "bikes.mp4"
    for job, attempt, piece in ((13, 1, "segment-0000"), (13, 2, "segment-0000"), (130, 1, "source")):
        await up(js, transfers.name(job, attempt, piece), clip)
    assert await transfers.remove_job(js, 13) == 2
    assert await transfers.remove_job(js, 13) == 0  # again: nothing, and no error
    store = await js.object_store(topology.TRANSFERS.name)
    left = [info.name for info in await store.list() if not info.deleted]
    assert left == [transfers.name(130, 1, "source")]  # job 130 is not job 13's
