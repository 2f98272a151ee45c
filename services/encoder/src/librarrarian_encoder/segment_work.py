"""One segment of a file, encoded on this node for the node that joins them (``segmented``): its source read
from the library when this node sees it (checked to be the file scanned), else fetched from this node's own
transfer store; its video encoded into a private scratch folder and put in the store this node reaches
(``transfers`` for the library's nodes, its own for a node without the library) for the joining node.

A segment is work like a transcode: the message is heartbeated while it runs, a node that dies hands it to
another after AckWait, and a failed encode is retried (on any node) before its failure is written beside the
job's pieces for the joining node to report; so is a segment handed out ``SEGMENT_GIVE_UP`` times with no
outcome (nodes that died on it). A segment whose job has ended (its plan is gone from the store)
or that an earlier delivery already put there is acknowledged and not encoded. A node without the library
that the job is not shared with (it started after the cut, or the source is over its transfer limit) hands the
segment back for the others, and counts it in its store: the library's nodes leave such deliveries out of the
give-up count."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from librarrarian_contracts import EncodeSegment, topology
from librarrarian_contracts.settings import TranscodeSettings
from librarrarian_contracts.sources import PathMapping
from librarrarian_media import reading
from librarrarian_runtime import path_mapping
from librarrarian_runtime.media_paths import OutsideMediaPaths, contain
from librarrarian_runtime.watched import Watched
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from . import chunks, ffmpeg, lease, scratch, transfers
from . import replace as safe_replace
from .binaries import Binaries
from .folder import Folder, NotAFile, Redirected
from .profiles import profile_for
from .remote_shares import live_remote_nodes

if TYPE_CHECKING:
    from .encoding import Encodes

log = logging.getLogger(__name__)

RETRY_DELAY_SECONDS = 5.0
# How long a segment this node cannot do yet (its job is not shared with it) waits before it is handed out
# again.
HAND_BACK_SECONDS = 5.0
REST_AFTER_HAND_BACK_SECONDS = 2 * HAND_BACK_SECONDS
SOURCE_NAME = "source"


def plan_object(job_id: int, attempt: int) -> str:
    """The job's plan in the store: present while the joining node waits for its segments."""
    return transfers.name(job_id, attempt, "plan")


def segment_object(job_id: int, attempt: int, index: int) -> str:
    return transfers.name(job_id, attempt, f"segment-{index:05d}.mkv")


def failure_object(job_id: int, attempt: int, index: int) -> str:
    """Where a segment that failed on every delivery says why."""
    return transfers.name(job_id, attempt, f"segment-{index:05d}.failed")


def handed_back_object(job_id: int, attempt: int, index: int) -> str:
    """How often a node without the library handed a segment back, the job not shared with it (in its own
    store): deliveries that are no node's death, left out of ``SEGMENT_GIVE_UP``'s count."""
    return transfers.name(job_id, attempt, f"segment-{index:05d}.handed-back")


@dataclass(frozen=True)
class Failed:
    reason: str
    final: bool  # no other delivery would do better (the file changed): said at once


class SegmentWorker:
    def __init__(
        self,
        js: JetStreamContext,
        node: str,
        media_paths: tuple[Path, ...],
        binaries: Binaries,
        encodes: Encodes,
        transcode: Watched[TranscodeSettings],
        mappings: Callable[[], tuple[PathMapping, ...]],
    ) -> None:
        self.js, self.node, self.media_paths = js, node, media_paths
        self.binaries, self.encodes, self.transcode = binaries, encodes, transcode
        self.mappings = mappings
        # The store this node reaches: the shared one when it sees the library, else its own.
        self.remote = not media_paths
        self.store = topology.remote_store(node).name if self.remote else transfers.SHARED
        # The last source fetched from the store, kept for the job's next segments on this node: one job's
        # at a time, dropped when another job's arrives, when the job ends, and when the node stops.
        self._fetched: tuple[str, Path] | None = None
        self._fetching = asyncio.Lock()

    def close(self) -> None:
        self._drop_fetched()

    def _drop_fetched(self) -> None:
        if self._fetched is not None:
            shutil.rmtree(self._fetched[1].parent, ignore_errors=True)
            self._fetched = None

    async def handle(
        self, msg: Msg, work: EncodeSegment, slot_free: asyncio.Event, beat_seconds: float
    ) -> None:
        """``slot_free`` is set once ffmpeg is done (the upload runs beside the slot's next encode); the lease is
        kept with a heartbeat every ``beat_seconds``."""
        heartbeat = asyncio.create_task(lease.keep(msg, beat_seconds))
        name = f"job {work.job_id} segment {work.index + 1}/{work.segments}"
        delivered = msg.metadata.num_delivered
        try:
            try:
                if await self._not_shared_yet(work):
                    # A node without the library that started after the cut: the joining node puts the
                    # job's plan and source in its store at its next look (every few seconds). Meanwhile
                    # the segment goes back, for the others or for this node once it has them.
                    log.info("%s: not shared with this node yet; handed back", name)
                    heartbeat.cancel()
                    await self._hand_back(msg, work)
                    # The slot rests before it asks again: a node always asking would draw the segment back
                    # the moment it is free again, every time, and the library's nodes would never get it.
                    await asyncio.sleep(REST_AFTER_HAND_BACK_SECONDS)
                    return
                if delivered > topology.SEGMENT_GIVE_UP and await self._gone_unanswered(work, delivered):
                    # Every delivery before ended without an outcome: the nodes that took it died or
                    # stopped on it. Said, rather than handed out for good.
                    failed: Failed | None = Failed(
                        f"delivered {delivered} times without an outcome (the nodes that took it stopped)",
                        final=True,
                    )
                else:
                    failed = await self._encode(work, slot_free, name)
            except asyncio.CancelledError:
                log.warning("%s: stopped before the end; handing it back", name)
                with contextlib.suppress(Exception):
                    await msg.nak()
                raise
            except Exception as error:
                log.exception("%s: unexpected error", name)
                failed = Failed(f"internal error: {type(error).__name__}: {error}", final=False)
            finally:
                slot_free.set()
            if failed is None:
                await msg.ack()
                return
            last = delivered >= topology.WORK_MAX_DELIVER
            if failed.final or last:
                log.warning("%s failed: %s", name, failed.reason)
                await transfers.put_note(
                    self.js,
                    failure_object(work.job_id, work.attempt, work.index),
                    failed.reason,
                    store=self.store,
                )
                await msg.ack()
            else:
                log.warning("%s failed (%s); it will be tried again", name, failed.reason)
                await msg.nak(delay=RETRY_DELAY_SECONDS)
        finally:
            heartbeat.cancel()

    async def _hand_back(self, msg: Msg, work: EncodeSegment) -> None:
        """Give the segment back, and say so in this node's store: a hand-back is no node's death. Said
        before the segment goes back, so whoever takes it next counts it."""
        counted = handed_back_object(work.job_id, work.attempt, work.index)
        with contextlib.suppress(Exception):  # unsaid, it counts as a death: at worst an early give-up
            before = _count(await transfers.read_note(self.js, counted, store=self.store))
            await transfers.put_note(self.js, counted, str(before + 1), store=self.store)
        await msg.nak(delay=HAND_BACK_SECONDS)

    async def _gone_unanswered(self, work: EncodeSegment, delivered: int) -> bool:
        """Whether the deliveries before this one, the hand-backs of nodes without the library aside, are
        more than ``SEGMENT_GIVE_UP``. Only a node of the library judges (it reaches those nodes' stores);
        a node without the library encodes the segment."""
        if self.remote:
            return False
        handed_back = 0
        for remote in await live_remote_nodes(self.js, work.hw_class):
            try:
                note = await transfers.read_note(
                    self.js,
                    handed_back_object(work.job_id, work.attempt, work.index),
                    store=topology.remote_store(remote).name,
                )
            except Exception as error:  # noqa: BLE001 - unread, it counts none: at worst an early give-up
                log.warning("could not read the hand-backs of %s: %r", remote, error)
                continue
            handed_back += _count(note)
        return delivered - handed_back > topology.SEGMENT_GIVE_UP

    async def _not_shared_yet(self, work: EncodeSegment) -> bool:
        if not self.remote or self.node in work.remote_nodes:
            return False
        return not await transfers.present(self.js, plan_object(work.job_id, work.attempt), store=self.store)

    async def _encode(self, work: EncodeSegment, slot_free: asyncio.Event, name: str) -> Failed | None:
        if not await transfers.present(self.js, plan_object(work.job_id, work.attempt), store=self.store):
            log.info("%s: its job has ended; dropped", name)
            if self._fetched is not None and self._fetched[0] == work.source_object:
                self._drop_fetched()
            return None
        output_object = segment_object(work.job_id, work.attempt, work.index)
        if work.output_object != output_object:
            return Failed(f"not a segment's name: {work.output_object!r}", final=True)
        if await transfers.present(self.js, output_object, store=self.store):
            log.info("%s: already done by an earlier delivery", name)
            return None
        profile = profile_for(work.hw_class, work.target_codec)
        if profile is None:
            return Failed(f"no {work.hw_class} encoder for {work.target_codec}", final=True)
        limit = int(self.transcode.value.transfer_limit_gb * 1_000_000_000)
        with scratch.folder(scratch.SEGMENT) as folder:
            source = await self._source(work, limit)
            if isinstance(source, Failed):
                return source
            try:
                out = folder / chunks.segment_name(chunks.Segment(work.index, work.start, work.end))
                odd = bool((work.probe.width or 0) % 2 or (work.probe.height or 0) % 2)
                argv = chunks.encode_argv(
                    self.binaries.for_class(profile.hw),
                    Path(reading.descriptor_path(source)),
                    chunks.Segment(work.index, work.start, work.end),
                    profile,
                    work.quality,
                    out,
                    container=work.probe.container,
                    odd_size=odd,
                )
                span = "to the end" if work.end is None else f"to {work.end:.3f} s"
                log.info("%s: encoding from %.3f s %s", name, work.start, span)
                key = (work.job_id, work.index)
                try:
                    result = await ffmpeg.run(
                        argv,
                        _ignore,
                        stall_seconds=self.transcode.value.stall_seconds,
                        started=self.encodes.started_as(key),
                        pass_fds=(source,),
                    )
                finally:
                    self.encodes.encodings.pop(key, None)
            finally:
                os.close(source)
            slot_free.set()
            if result.stalled_after is not None:
                return Failed(f"stalled: no progress for {result.stalled_after:.0f} s", final=False)
            if result.returncode != 0:
                return Failed(f"{profile.encoder} failed: {result.last_error}", final=False)
            if not await transfers.present(self.js, plan_object(work.job_id, work.attempt), store=self.store):
                log.info("%s: its job ended while it was encoded; not kept", name)
                return None
            fd = os.open(out, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            began = time.monotonic()
            try:
                size = await transfers.upload(
                    self.js, output_object, fd, limit=limit, description=self.node, store=self.store
                )
            except transfers.TransferError as error:
                return Failed(str(error), final=True)
            finally:
                os.close(fd)
        log.info(
            "%s: done (%d bytes, put in the transfer store in %.2f s)", name, size, time.monotonic() - began
        )
        return None

    async def _source(self, work: EncodeSegment, limit: int) -> int | Failed:
        """The source open for reading: the library's file when this node sees it (still the one scanned),
        else (a node without the library) the copy in its store, fetched once per job into a scratch folder
        of its own."""
        local = await asyncio.to_thread(self._open_local, work)
        if isinstance(local, int | Failed):
            return local
        if not self.remote or work.source_object is None:
            # A node of the library that does not mount this part of it: another node takes the segment.
            return Failed(f"this node cannot read the file ({local})", final=False)
        async with self._fetching:
            if self._fetched is None or self._fetched[0] != work.source_object:
                self._drop_fetched()
                folder = scratch.make(scratch.SEGMENT)
                try:
                    began = time.monotonic()
                    path = await transfers.download(
                        self.js, work.source_object, folder, SOURCE_NAME, limit=limit, store=self.store
                    )
                except transfers.TransferError as error:
                    shutil.rmtree(folder, ignore_errors=True)
                    return Failed(str(error), final=False)
                except BaseException:
                    shutil.rmtree(folder, ignore_errors=True)
                    raise
                log.info(
                    "job %d: source fetched from this node's transfer store (%d bytes in %.1f s)",
                    work.job_id,
                    path.stat().st_size,
                    time.monotonic() - began,
                )
                self._fetched = (work.source_object, path)
            path = self._fetched[1]
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        if os.fstat(fd).st_size != work.identity.size:
            os.close(fd)
            return Failed("the copy in the store is not the file scanned", final=True)
        return fd

    def _open_local(self, work: EncodeSegment) -> int | Failed | str:
        """The library's file, opened as a transcode opens it (inside the media paths, no symlink on the
        way, still the file scanned); or why this node cannot see it (a string: the store may have it)."""
        if not self.media_paths:
            return "no library here"
        local = Path(path_mapping.to_local(work.path, self.mappings()))
        if not any(local.is_relative_to(root) for root in self.media_paths):
            return f"{local} is outside this node's media paths"  # a part of the library it does not mount
        try:
            source = contain(local, self.media_paths)
        except OutsideMediaPaths as error:
            return Failed(f"{error}: a symlink leads out of them", final=True)
        try:
            with Folder.open(source.parent, self.media_paths) as folder:
                fd = folder.open_file(source.name)
        except (FileNotFoundError, NotADirectoryError) as error:
            return str(error) or type(error).__name__
        except (Redirected, NotAFile) as error:
            return Failed(str(error), final=True)
        except OSError as error:
            if error.errno == errno.ELOOP:  # planted since the path was resolved
                return Failed(f"{source.name} is a symlink now; not followed", final=True)
            return Failed(f"cannot open {source.name}: {error.strerror or error}", final=False)
        opened = safe_replace.identity(os.fstat(fd))
        if not opened.same_file(work.identity):
            os.close(fd)
            return Failed("the file changed since it was scanned", final=True)
        return fd


def _count(note: str | None) -> int:
    """A hand-back count as a node wrote it; 0 for none, or for anything but a count."""
    try:
        return max(0, int(note or 0))
    except ValueError:
        return 0


async def _ignore(_: ffmpeg.Progress) -> None:
    return None
