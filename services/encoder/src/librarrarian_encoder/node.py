"""The node: its controls (start, stop, stop now, pause, resume; the queue's pause; its schedule; the pause
while someone watches on Plex or Jellyfin) applied to its worker and slots, and its live entry in the
``nodes`` bucket, which is how the dashboard and the scheduler's placement know it is there.

A pause for playback is the node's own and apart from the user's: it never changes ``NodeControl``, so a
node the user paused or stopped stays so when the playback ends, and one paused for playback runs again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from importlib.metadata import version

from librarrarian_contracts import NodeState, encode, topology
from librarrarian_contracts.settings import NodeControl, NodeSchedule, QueueControl, StreamingSettings
from librarrarian_contracts.topology import HwClass
from librarrarian_contracts.views import FfmpegUse, NodeStatus, PlaybackState, ScheduleStatus
from librarrarian_runtime import machine
from librarrarian_runtime.streaks import FailureStreak
from librarrarian_runtime.watched import Watched
from nats.js.kv import KeyValue

from . import playback, schedule
from .clock import Clock
from .settings import Settings
from .waits import first
from .worker import Worker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Watching:
    """What the pause for playback follows: the ``streaming`` setting and the ``playback`` bucket's value."""

    streaming: Watched[StreamingSettings]
    playback: Watched[PlaybackState]


@dataclass(frozen=True)
class Hardware:
    """What this node found it can do at start."""

    codecs: dict[HwClass, tuple[str, ...]]  # usable class -> the codecs it encodes here
    unusable: dict[HwClass, str]  # class -> why its test encode failed
    ffmpeg: tuple[FfmpegUse, ...]  # the ffmpeg each usable class and VMAF run with, and why

    def __str__(self) -> str:
        return ", ".join(f"{h} ({'/'.join(c)})" for h, c in self.codecs.items())


class Node:
    """The node's controls, applied to its worker and its slots."""

    def __init__(
        self,
        settings: Settings,
        hardware: Hardware,
        worker: Worker,
        control: Watched[NodeControl],
        queue: Watched[QueueControl],
        timetable: Watched[NodeSchedule],
        clock: Clock,
        stopping: asyncio.Event,
        watching: Watching | None = None,
    ) -> None:
        self.settings, self.hardware, self.worker = settings, hardware, worker
        self.control, self.queue, self.stopping = control, queue, stopping
        self.timetable, self.clock = timetable, clock
        self.open = asyncio.Event()  # set while slots may take work
        self.changed = asyncio.Event()  # wakes the reporter
        self.rescheduled = asyncio.Event()  # wakes the schedule follower
        self.handling: dict[asyncio.Task[None], int] = {}  # task -> job id
        self.slots: dict[HwClass, int] = dict.fromkeys(hardware.codecs, 1)  # usable class -> encodes at once
        self.schedule: ScheduleStatus | None = self._read_schedule()
        self._grace_ends: float | None = None
        self.watching = watching
        self.paused_for = ""  # why the node paused on its own: someone is watching
        self.heard = asyncio.Event()  # wakes the playback follower
        self._heard_at = time.monotonic()  # when the scanner last wrote who is watching
        if watching is not None:
            watching.playback.on_change(self._heard)
            watching.streaming.on_change(lambda _: self.heard.set())
        control.on_change(lambda _: self.apply())
        queue.on_change(lambda _: self.apply())
        timetable.on_change(lambda _: self.rescheduled.set())

    def took(self, handling: asyncio.Task[None], job_id: int) -> None:
        self.handling[handling] = job_id
        handling.add_done_callback(self._forget)
        self.changed.set()

    def _forget(self, handling: asyncio.Task[None]) -> None:
        self.handling.pop(handling, None)
        self.changed.set()

    def holds_commit(self, handling: asyncio.Task[None]) -> bool:
        """A job granted the commit finishes its replace (milliseconds) and reports it, whatever happens."""
        return self.handling.get(handling) in self.worker.committed

    def waits_for_segments(self, handling: asyncio.Task[None]) -> bool:
        """A job whose segments other slots (this node's too) are encoding: it holds no slot meanwhile."""
        segmenter = self.worker.encodes.segmenter
        return segmenter is not None and self.handling.get(handling) in segmenter.waiting

    def grace_left(self) -> float:
        """Seconds left of the grace period that running jobs get once the node stops (one for them all,
        from the first time a slot asks)."""
        if self._grace_ends is None:
            self._grace_ends = time.monotonic() + self.settings.grace_seconds
        return max(0.0, self._grace_ends - time.monotonic())

    def _heard(self, _: PlaybackState) -> None:
        self._heard_at = time.monotonic()
        self.heard.set()

    def apply(self) -> None:
        wanted = self.control.value
        watched = bool(self.paused_for) and wanted.state != "paused" and not self.stopping.is_set()
        if wanted.state == "paused" or watched:
            self.worker.pause()
        else:
            self.worker.resume()
        if wanted.state == "stopped" and wanted.now:
            for task in self.handling:
                if not self.holds_commit(task):
                    task.cancel()  # the worker stops ffmpeg and naks: another node takes the job at once
        in_window = self.schedule is None or self.schedule.open
        if (
            wanted.state == "running"
            and not watched
            and not self.queue.value.paused
            and in_window
            and not self.stopping.is_set()
        ):
            self.open.set()
        else:
            self.open.clear()
        self.changed.set()

    @property
    def state(self) -> NodeState:
        if self.stopping.is_set():
            return NodeState.STOPPING
        wanted = self.control.value.state
        if wanted == "paused":
            return NodeState.PAUSED
        if wanted == "stopped":
            return NodeState.DRAINING if self.worker.running else NodeState.STOPPED
        if self.paused_for:
            return NodeState.PAUSED_FOR_PLAYBACK
        if self.queue.value.paused:
            return NodeState.QUEUE_PAUSED
        return NodeState.OFF_SCHEDULE if self.schedule and not self.schedule.open else NodeState.RUNNING

    def _read_schedule(self) -> ScheduleStatus | None:
        return schedule.status(self.timetable.value, self.settings.time_zone, self.clock.now())

    async def follow_schedule(self) -> None:
        """Open and close the node as its windows begin and end, and at once when its schedule changes. A job
        running when a window ends finishes; the slots take no next one (see ``slots``)."""
        while not self.stopping.is_set():
            self.rescheduled.clear()
            was, self.schedule = self.schedule, self._read_schedule()
            if (was is None or was.open) != (self.schedule is None or self.schedule.open):
                log.info(
                    "encoder %s: %s",
                    self.settings.node,
                    "inside a scheduled window: taking work"
                    if self.schedule is None or self.schedule.open
                    else "outside its scheduled windows: finishing running jobs, taking no more",
                )
            if was != self.schedule:
                self.apply()
            waits: list[Awaitable[object]] = [self.rescheduled.wait(), self.stopping.wait()]
            change = schedule.next_change(self.schedule)
            if change is not None:
                waits.append(self.clock.sleep_until(change))
            await first(*waits)

    async def follow_playback(self) -> None:
        """Pause while someone watches (as the ``streaming`` setting says which nodes), run again when the
        playback ends or when the scanner's word goes stale; a change is applied at once."""
        if self.watching is None:
            return
        stale_after = topology.PLAYBACK_STALE_SECONDS
        while not self.stopping.is_set():
            self.heard.clear()
            fresh = time.monotonic() - self._heard_at < stale_after
            state = self.watching.playback.value
            own = await asyncio.to_thread(machine.own_addresses) if state.playing else frozenset[str]()
            reason = playback.pause_reason(
                self.watching.streaming.value,
                state,
                fresh=fresh,
                own=own,
                same_machine=self.settings.same_machine_as_media_server,
            )
            if reason != self.paused_for:
                log.info(
                    "encoder %s: %s",
                    self.settings.node,
                    f"pausing its encodes: {reason}" if reason else "nobody is watching now: encodes resume",
                )
                self.paused_for = reason
                self.apply()
            await first(self.heard.wait(), self.stopping.wait(), asyncio.sleep(stale_after / 3))

    async def watch_stop(self) -> None:
        """On SIGTERM: take no more work; what runs gets its grace period (see ``slots``)."""
        await self.stopping.wait()
        log.info(
            "encoder %s stopping: finishing running jobs for up to %.0f s",
            self.settings.node,
            self.settings.grace_seconds,
        )
        self.worker.resume()  # a paused encode gets its grace period like any other
        self.apply()

    def status(self) -> NodeStatus:
        return NodeStatus(
            node=self.settings.node,
            hostname=socket.gethostname(),
            version=version("librarrarian-encoder"),
            classes=tuple(self.hardware.codecs),
            slots=sum(self.slots.values()),
            state=self.state,
            jobs=tuple(sorted(self.worker.running)),
            codecs=dict(self.hardware.codecs),
            unusable=self.hardware.unusable,
            slots_per_class=dict(self.slots),
            ffmpeg=self.hardware.ffmpeg,
            schedule=self.schedule,
            paused_for=self.paused_for if self.state is NodeState.PAUSED_FOR_PLAYBACK else "",
            library=bool(self.settings.media_paths),
        )

    async def report(self, nodes: KeyValue) -> None:
        """Write the node's entry every heartbeat and at once on a change, until it stopped with no job left.

        The entry expires when it is not written (a dead node disappears), so a node that cannot write it
        drops off the dashboard and out of placement: said once per streak of failures, and when it works
        again."""
        bucket = topology.NODES.name
        streak = FailureStreak(log, f"writing node {self.settings.node}'s entry in the {bucket!r} bucket")
        while True:
            self.changed.clear()  # before the write: a change while it is under way is written next
            try:
                await nodes.put(self.settings.node, encode(self.status()))
            except Exception as error:  # noqa: BLE001 - the next beat retries; the streak logs it
                streak.failed(error)
            else:
                streak.succeeded()
            if self.stopping.is_set() and not self.worker.running:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), topology.NODE_HEARTBEAT_SECONDS)
