"""One work message, start to end: the job through the pipeline, its outcome published, the message acked.

Every outcome is published before the message is acked, so a crash in between means a redelivery, never
a lost outcome. The heartbeat (``in_progress``) runs for the whole handling, until the server confirmed the
ack (:mod:`.lease`): a node that dies stops it and JetStream hands the job to another node after AckWait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from librarrarian_contracts import Transcode, publish
from librarrarian_contracts.settings import PathSettings, TranscodeSettings
from librarrarian_contracts.sources import PathMapping
from librarrarian_contracts.topology import HwClass
from librarrarian_runtime import path_mapping
from librarrarian_runtime.watched import Watched
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.js.kv import KeyValue

from . import lease
from .binaries import Binaries
from .encoding import Encodes
from .job import Job
from .pipeline import Pipeline
from .progress import ProgressBucket
from .quality_choice import SearchMemory
from .segment_work import SegmentWorker
from .segmented import Segmenter
from .settings import Settings

log = logging.getLogger(__name__)

# How long an ack is sent again while the server does not confirm it (a stream electing its leader).
ACK_CONFIRM_SECONDS = 30.0
ACK_TIMEOUT_SECONDS = 2.0
ACK_RETRY_SECONDS = 0.5


class Worker:
    def __init__(
        self,
        nc: Client,
        settings: Settings,
        binaries: Binaries,
        progress: KeyValue,
        transcode: Watched[TranscodeSettings],
        codecs: dict[HwClass, tuple[str, ...]],
        *,
        paths: Watched[PathSettings],
    ) -> None:
        self.js = nc.jetstream()
        self.settings = settings
        self.transcode = transcode
        self.paths = paths
        self.progress = ProgressBucket(progress)
        segmenter = Segmenter(self.js, settings.node, binaries, self.progress)
        self.encodes = Encodes(binaries, self.progress, codecs, SearchMemory(self.js), segmenter)
        self.segments = SegmentWorker(
            self.js, settings.node, settings.media_paths, binaries, self.encodes, transcode, self.mappings
        )
        self.running: set[int] = set()
        # Jobs granted the commit: they finish their replace and report it even when the node stops.
        self.committed: set[int] = set()
        self.pipeline = Pipeline(nc, settings, self.encodes, self.committed)

    def mappings(self) -> tuple[PathMapping, ...]:
        """This node's path mappings now: ``PATH_MAPPINGS`` with the ``paths`` setting's for this node."""
        return path_mapping.for_node(self.settings.path_mappings, self.paths.value, self.settings.node)

    def close(self) -> None:
        self.pipeline.close()
        self.segments.close()

    def pause(self) -> None:
        self.encodes.pause()

    def resume(self) -> None:
        self.encodes.resume()

    async def handle(
        self, msg: Msg, request: Transcode, slot_free: asyncio.Event, beat_seconds: float
    ) -> None:
        """``slot_free`` is set once ffmpeg is done with the job (or the job ended before it ran); the lease is
        kept with a heartbeat every ``beat_seconds``."""
        job = Job(
            request=request,
            delivery=msg.metadata.num_delivered,
            node=self.settings.node,
            transcode=self.transcode.value,
            mappings=self.mappings(),
            slot_free=slot_free,
        )
        self.running.add(job.id)
        # The lease is kept until the ack: publishing the outcome may wait out a NATS leader election.
        heartbeat = asyncio.create_task(lease.keep(msg, beat_seconds))
        try:
            try:
                outcome = await self.pipeline.run(job)
            except asyncio.CancelledError:
                # The node is stopping and the grace period is over: hand the job to another node now.
                log.warning("job %d: stopped before the end; handing it back", job.id)
                with contextlib.suppress(Exception):
                    await msg.nak()
                raise
            except Exception as error:
                log.exception("job %d: unexpected error", job.id)
                outcome = job.failed(f"internal error: {type(error).__name__}: {error}")
            finally:
                slot_free.set()
                self.running.discard(job.id)
                self.committed.discard(job.id)
                await self.progress.clear(job.id)
            if outcome is not None:
                await publish(self.js, outcome)
            await _acknowledge(msg, job.id)
        finally:
            heartbeat.cancel()


async def _acknowledge(msg: Msg, job_id: int) -> None:
    """Ack, and wait for the server to confirm it: an ack lost with a NATS server that went away would
    bring the job back after AckWait, to be found done. Sent again while unconfirmed (the lease is kept
    meanwhile); a second ack of the same message is harmless."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ACK_CONFIRM_SECONDS
    while True:
        try:
            await msg.ack_sync(timeout=ACK_TIMEOUT_SECONDS)
            return
        except (TimeoutError, NoRespondersError) as error:
            if loop.time() >= deadline:
                log.warning("job %d: the ack was not confirmed (%r); the work may come back", job_id, error)
                return
        await asyncio.sleep(ACK_RETRY_SECONDS)
