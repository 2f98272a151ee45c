"""What the scanner's tests put in place of PyAV and read the bus with: a probe that blocks until released,
and the MEDIA stream's events in order."""

from __future__ import annotations

import threading
from pathlib import Path

from librarrarian_contracts import MediaProbe, MediaProbed, MediaProbeFailed, ScanCompleted, topology
from librarrarian_contracts.codec import media_decoder
from librarrarian_contracts.messages import MediaEvent
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext


class Gate:
    """A hand-written stand-in for PyAV's read: every probe blocks until released; it counts who is inside
    and says when the first one came in."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.entered = threading.Event()
        self.lock = threading.Lock()
        self.inside = 0
        self.most_inside = 0

    def read(self, path: Path) -> MediaProbe:
        with self.lock:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        self.entered.set()
        try:
            self.released.wait(timeout=60)
            return MediaProbe(container="fake", duration=1.0, video_codec="h264")
        finally:
            with self.lock:
                self.inside -= 1


class MediaLog:
    """Everything on the MEDIA stream, pulled with an ephemeral consumer."""

    def __init__(self, js: JetStreamContext) -> None:
        self.js = js
        self.events: list[MediaEvent] = []

    async def start(self) -> None:
        self.sub = await self.js.pull_subscribe("media.>", stream=topology.MEDIA.name)

    async def stop(self) -> None:
        await self.sub.unsubscribe()

    async def pull(self) -> list[MediaEvent]:
        try:
            messages = await self.sub.fetch(100, timeout=0.2)
        except (TimeoutError, NatsTimeoutError):
            messages = []
        for msg in messages:
            self.events.append(media_decoder.decode(msg.data))
            await msg.ack()
        return self.events

    async def scans(self, at_least: int) -> list[ScanCompleted]:
        await self.pull()
        scans = [e for e in self.events if isinstance(e, ScanCompleted)]
        return scans if len(scans) >= at_least else []

    def files(self, scan: int) -> dict[str, MediaProbed | MediaProbeFailed]:
        """File name → event of the ``scan``-th scan (from 0): the events between its summary and the last."""
        summaries = 0
        out: dict[str, MediaProbed | MediaProbeFailed] = {}
        for event in self.events:
            if isinstance(event, ScanCompleted):
                summaries += 1
            elif summaries == scan:
                assert Path(event.path).name not in out, f"{event.path} reported twice in one scan"
                out[Path(event.path).name] = event
        return out
