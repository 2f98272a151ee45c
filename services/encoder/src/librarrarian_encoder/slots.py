"""A slot: one encode at a time from its hardware class's durable, while the node is open. On shutdown it
takes no more work, gives its running jobs the grace period, then stops the ones not holding the commit.

The node's slots follow its ``slots.<name>`` setting (:class:`SlotPool`): a slot added takes work at once, a
slot taken away (retired) takes no more and finishes what it runs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from typing import TypeVar

import msgspec
from librarrarian_contracts import topology
from librarrarian_contracts.codec import segment_decoder, work_decoder
from librarrarian_contracts.settings import NodeSlots
from librarrarian_contracts.topology import HwClass
from librarrarian_runtime.consumer import Puller
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from . import lease
from .node import Node
from .waits import first

log = logging.getLogger(__name__)

T = TypeVar("T")

# How long a slot waits for a segment before it asks for a whole job.
SEGMENT_FIRST_SECONDS = 0.1


class SlotPool:
    """As many slots per usable class as the setting says, in the node's task group."""

    def __init__(self, js: JetStreamContext, node: Node, tasks: asyncio.TaskGroup) -> None:
        self.js, self.node, self.tasks = js, node, tasks
        self.active: dict[HwClass, list[asyncio.Event]] = {hw: [] for hw in node.hardware.codecs}
        self._started = 0

    def resize(self, wanted: NodeSlots) -> None:
        if self.node.stopping.is_set():
            return  # the task group is closing: the slots there are finish their jobs
        for hw, active in self.active.items():
            count = wanted.of(hw)
            while len(active) < count:
                retired = asyncio.Event()
                active.append(retired)
                self._started += 1
                self.tasks.create_task(
                    slot(self.js, self.node, hw, retired), name=f"slot {hw} {self._started}"
                )
            while len(active) > count:
                active.pop().set()
        changed = {hw: len(active) for hw, active in self.active.items()}
        if changed != self.node.slots:
            log.info(
                "encoder %s slots: %s",
                self.node.settings.node,
                ", ".join(f"{hw} x{count}" for hw, count in changed.items()),
            )
            self.node.slots = changed
            self.node.changed.set()


async def slot(js: JetStreamContext, node: Node, hw: HwClass, retired: asyncio.Event | None = None) -> None:
    """Fetch one message at a time while the node is open, until it stops or this slot is retired.

    A slot is an ffmpeg: once a job's encode ends, the slot takes the next job while the previous one is
    verified and put in place (at most one job finishing per slot), so the encoder never waits on disk
    syncs and round trips between two encodes."""
    library = bool(node.settings.media_paths)
    spec, segment_spec = topology.WORK_CONSUMERS[hw], topology.SEGMENT_CONSUMERS[hw]
    segment_sub = await js.pull_subscribe_bind(durable=segment_spec.durable, stream=segment_spec.stream)
    segment_puller = Puller(segment_sub, segment_spec.durable, node.stopping)
    segment_beat = await lease.beat_seconds(segment_sub)
    # A node without the library takes no whole job: its user may not even look at their durables.
    sub = await js.pull_subscribe_bind(durable=spec.durable, stream=spec.stream) if library else None
    puller = Puller(sub, spec.durable, node.stopping) if sub is not None else None
    beat = await lease.beat_seconds(sub) if sub is not None else None
    retired = retired or asyncio.Event()
    jobs: list[asyncio.Task[None]] = []  # the one encoding, and the one before it, finishing
    waiting: list[asyncio.Task[None]] = []  # jobs of this slot's waiting for their segments
    try:
        while not node.stopping.is_set() and not retired.is_set():
            if not node.open.is_set():
                await first(node.open.wait(), node.stopping.wait(), retired.wait())
                continue
            # A segment first: a file under way across the nodes ends before another starts. A node that
            # sees no library takes segments only. The node may have closed while the first fetch waited:
            # a closed node asks for nothing more (one fetch at most is under way when it closes).
            slot_free = asyncio.Event()
            if pulled := await segment_puller.pull(1, timeout=SEGMENT_FIRST_SECONDS if library else 1.0):
                handling = await _take_segment(node, pulled[0], slot_free, segment_beat)
            elif (
                puller is not None
                and beat is not None
                and _may_take(node, retired)
                and (pulled := await puller.pull(1))
            ):
                handling = await _take(node, pulled[0], slot_free, beat)
            else:
                continue
            if handling is None:
                continue
            jobs.append(handling)
            await first(slot_free.wait(), node.stopping.wait())
            if node.stopping.is_set():
                break  # both jobs get the grace period, together
            # A job waiting for its segments from across the nodes holds no slot: this one encodes them too.
            waiting = [j for j in waiting if not j.done()] + [
                j for j in jobs[:-1] if node.waits_for_segments(j)
            ]
            await _finish(node, [j for j in jobs[:-1] if j not in waiting])
            del jobs[:-1]
    except asyncio.CancelledError:
        # The node is going down without its grace period (another of its tasks failed): hand the jobs back.
        for handling in [*waiting, *jobs]:
            if not node.holds_commit(handling):
                handling.cancel()
        raise
    finally:
        await _finish(node, [*waiting, *jobs])
        if sub is not None:
            await sub.unsubscribe()
        await segment_sub.unsubscribe()


def _may_take(node: Node, retired: asyncio.Event) -> bool:
    return node.open.is_set() and not node.stopping.is_set() and not retired.is_set()


async def _take(node: Node, msg: Msg, slot_free: asyncio.Event, beat: float) -> asyncio.Task[None] | None:
    request = await _decoded(msg, work_decoder, "work")
    if request is None:
        return None
    handling = asyncio.create_task(
        node.worker.handle(msg, request, slot_free, beat), name=f"job {request.job_id}"
    )
    node.took(handling, request.job_id)
    return handling


async def _take_segment(
    node: Node, msg: Msg, slot_free: asyncio.Event, beat: float
) -> asyncio.Task[None] | None:
    work = await _decoded(msg, segment_decoder, "segment")
    if work is None:
        return None
    handling = asyncio.create_task(
        node.worker.segments.handle(msg, work, slot_free, beat),
        name=f"job {work.job_id} segment {work.index}",
    )
    node.took(handling, work.job_id)
    return handling


async def _decoded(msg: Msg, decoder: msgspec.json.Decoder[T], kind: str) -> T | None:
    """The message's value; None (and the message dropped for good) when it cannot be decoded."""
    try:
        return decoder.decode(msg.data)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        log.error("dropping an undecodable %s message: %s", kind, error)
        await msg.term()
        return None


async def _finish(node: Node, jobs: Collection[asyncio.Task[None]]) -> None:
    """Wait for these jobs to end; once the node stops, give them what is left of its grace period, then
    stop the ones that do not hold the commit (a granted replace takes milliseconds and is reported)."""
    if not jobs:
        return
    await first(asyncio.wait(jobs), node.stopping.wait())
    _, running = await asyncio.wait(jobs, timeout=node.grace_left() if node.stopping.is_set() else None)
    for handling in running:
        if not node.holds_commit(handling):
            handling.cancel()
    for handling, ended in zip(jobs, await asyncio.gather(*jobs, return_exceptions=True), strict=True):
        # Its outcome is reported by the worker; what escapes it is an outcome that could not be reported
        # (the message comes back after AckWait).
        if isinstance(ended, Exception):
            log.error("%s: %r", handling.get_name(), ended, exc_info=ended)
