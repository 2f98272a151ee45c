"""One file encoded by many nodes at once: the node that took the job cuts it into keyframe-aligned segments
(``chunks``), hands each to any node of the job's class as work of its own (``EncodeSegment`` on
``work.segment.<class>``; ``segment_work`` does it), waits for their videos in the ``transfers`` store (and
in the stores of the nodes without the library it shares the job with: ``remote_shares``), and joins them
with the source's other streams (``chunk_join``) into the job's output. The output is then verified,
committed and put in place exactly as a file encoded whole; before that, the join is checked for seams
(every source frame, once, evenly spaced across each join).

The quality is chosen once, before the cut, so every segment is encoded at the same level. The job's plan is
an object in the store while it runs: a segment whose job has ended finds it gone and is dropped. Every piece
of the job is removed from the store when it ends, whatever the outcome; what a crash leaves expires there."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import av
from librarrarian_contracts import EncodeSegment, encode, topology
from librarrarian_contracts.settings import Quality
from librarrarian_contracts.views import JobProgress
from librarrarian_media import reading
from nats.js import JetStreamContext
from nats.js.api import ObjectInfo

from . import chunk_join, chunks, ffmpeg, scratch, transfers
from .binaries import Binaries
from .job import Planned
from .profiles import Profile
from .progress import ProgressBucket
from .remote_shares import Entries, Shares
from .segment_work import failure_object, plan_object, segment_object

log = logging.getLogger(__name__)

# How often the job's progress is written while no segment ends, and the nodes without the library are looked
# for (one that started since is shared with).
WAIT_STEP_SECONDS = 5.0


class Segmenter:
    """This node's side of the jobs it encodes in segments."""

    def __init__(self, js: JetStreamContext, node: str, binaries: Binaries, progress: ProgressBucket) -> None:
        self.js, self.node, self.binaries = js, node, binaries
        self.progress = progress
        self.waiting: set[int] = set()  # jobs waiting for their segments: they hold no slot meanwhile

    async def encode(
        self, job: Planned, profile: Profile, quality: Quality, started: Callable[[ffmpeg.Encoding], None]
    ) -> ffmpeg.Result | None:
        """The job's output written by joining its segments, or ffmpeg's failure (a segment's reason in its
        tail); None: the file has too few keyframes to cut, or they cannot be read, to be encoded whole."""
        source = Path(reading.descriptor_path(job.original))
        try:
            line = await asyncio.to_thread(chunks.timeline, source)
        except (av.error.FFmpegError, ValueError) as error:
            # Its packets cannot all be read (a damaged file): encoded whole, ffmpeg's own error says why.
            log.warning("job %d: cannot read the keyframes to cut it (%s); encoding it whole", job.id, error)
            return None
        plan = chunks.plan(line.keyframes, job.request.probe.duration, job.transcode.segment_seconds)
        if len(plan) < 2:
            return None
        limit = int(job.transcode.transfer_limit_gb * 1_000_000_000)
        note = (plan_object(job.id, job.request.attempt), _plan_text(plan))
        shares = Shares(self.js, job, self.node, note, limit)
        try:
            await transfers.put_note(self.js, *note)
            await shares.refresh(profile.hw)
            for segment in plan:
                await self._publish(job, segment, len(plan), profile, quality, shares)
            log.info(
                "job %d: %d segments of about %.0f s published to the %s nodes",
                job.id,
                len(plan),
                job.transcode.segment_seconds,
                profile.hw,
            )
            self.waiting.add(job.id)
            job.slot_free.set()  # this node's slot encodes segments (its own job's too) meanwhile
            try:
                failed, stores = await self._wait(job, plan, shares, profile.hw)
            finally:
                self.waiting.discard(job.id)
            if failed is not None:
                return ffmpeg.Result(returncode=1, stderr_tail=failed)
            with scratch.folder(scratch.SEGMENT) as folder:
                return await self._join(job, profile, plan, stores, line.frames, folder, limit, started)
        finally:
            with contextlib.suppress(Exception):  # what is left expires with the store's age limit
                await asyncio.shield(transfers.remove_job(self.js, job.id))
            await asyncio.shield(shares.remove())

    async def _publish(
        self,
        job: Planned,
        segment: chunks.Segment,
        count: int,
        profile: Profile,
        quality: Quality,
        shares: Shares,
    ) -> None:
        attempt = job.request.attempt
        work = EncodeSegment(
            job_id=job.id,
            attempt=attempt,
            index=segment.index,
            segments=count,
            start=segment.start,
            end=segment.end,
            path=job.request.path,
            identity=job.request.identity,
            probe=job.request.probe,
            target_codec=job.request.target_codec,
            hw_class=profile.hw,
            quality=quality,
            coordinator=self.node,
            output_object=segment_object(job.id, attempt, segment.index),
            source_object=shares.source_object,
            remote_nodes=tuple(shares.stores),
        )
        # The id makes a second publish of the same segment (a later delivery of this job) a no-op while
        # the stream remembers the first; after that, the segment's worker finds its video already there.
        await self.js.publish(
            topology.segment_subject(profile.hw),
            encode(work),
            stream=topology.WORK.name,
            headers={"Nats-Msg-Id": f"{job.id}:{attempt}:{segment.index}"},
        )

    async def _wait(
        self, job: Planned, plan: list[chunks.Segment], shares: Shares, hw: str
    ) -> tuple[str | None, dict[str, str]]:
        """Until every segment's video is in a store: (None, the store of each), or the reason one failed
        for good. The nodes without the library that start meanwhile are shared with as they come."""
        attempt = job.request.attempt
        wanted = {segment_object(job.id, attempt, s.index): s for s in plan}
        failures = {failure_object(job.id, attempt, s.index): s.index for s in plan}
        done: dict[str, ObjectInfo] = {}
        stores: dict[str, str] = {}
        total = sum((s.duration or max(0.0, (job.request.probe.duration or 0) - s.start)) for s in plan)
        started = time.monotonic()
        entries = Entries(self.js)
        try:
            for store in (transfers.SHARED, *shares.stores.values()):
                await entries.follow(store)
            looked = time.monotonic()
            while len(done) < len(wanted):
                arrived = await entries.next(WAIT_STEP_SECONDS)
                if time.monotonic() - looked >= WAIT_STEP_SECONDS:  # however often segments end
                    looked = time.monotonic()
                    for store in await shares.refresh(hw):
                        await entries.follow(store)
                if arrived is None:
                    await self._report(job, plan, done, total, started)
                    continue
                store, info = arrived
                if info.deleted:
                    continue
                if info.name in failures:
                    reason = await transfers.read_note(self.js, info.name, store=store) or "no reason given"
                    return f"segment {failures[info.name] + 1} of {len(plan)} failed: {reason}", {}
                if info.name in wanted and info.name not in done:
                    done[info.name], stores[info.name] = info, store
                    await self._report(job, plan, done, total, started)
        finally:
            await entries.close()
        log.info("job %d: all %d segments encoded in %.1f s", job.id, len(plan), time.monotonic() - started)
        return None, stores

    async def _report(
        self,
        job: Planned,
        plan: list[chunks.Segment],
        done: dict[str, ObjectInfo],
        total: float,
        started: float,
    ) -> None:
        """The job's progress: the share of the file its done segments cover, and who encoded them."""
        by_name = {segment_object(job.id, job.request.attempt, s.index): s for s in plan}
        covered = sum(
            by_name[n].duration or max(0.0, (job.request.probe.duration or 0) - by_name[n].start)
            for n in done
        )
        percent = 100.0 * covered / total if total else 0.0
        elapsed = time.monotonic() - started
        eta = elapsed * (total - covered) / covered if covered else None
        nodes = tuple(sorted({info.description or "?" for info in done.values()}))
        value = JobProgress(
            job_id=job.id,
            node=job.node,
            path=job.request.path,
            percent=round(min(percent, 99.9), 1),
            speed=round(covered / elapsed, 2) if covered and elapsed else None,
            eta_seconds=eta,
            segments_done=len(done),
            segments=len(plan),
            nodes=nodes,
        )
        await self.progress.put(job.id, encode(value))

    async def _join(
        self,
        job: Planned,
        profile: Profile,
        plan: list[chunks.Segment],
        stores: dict[str, str],
        frames: int,
        folder: Path,
        limit: int,
        started: Callable[[ffmpeg.Encoding], None],
    ) -> ffmpeg.Result:
        attempt = job.request.attempt
        began = time.monotonic()
        paths = []
        for s in plan:
            name = segment_object(job.id, attempt, s.index)
            paths.append(
                await transfers.download(
                    self.js, name, folder, chunks.segment_name(s), limit=limit, store=stores[name]
                )
            )
        log.info(
            "job %d: %d segments fetched from the transfer stores (%d bytes in %.2f s)",
            job.id,
            len(paths),
            sum(p.stat().st_size for p in paths),
            time.monotonic() - began,
        )
        output = Path(reading.descriptor_path(job.output.fd))
        argv = chunk_join.join_argv(
            self.binaries.for_class(profile.hw),
            paths,
            Path(reading.descriptor_path(job.original)),
            output,
            plan=plan,
            probe=job.request.probe,
            scratch=folder,
            codec=profile.codec,
            job_id=job.id,
            suffix=job.final.suffix,
            streams=job.request.streams,
        )
        result = await ffmpeg.run(
            argv,
            _ignore,
            stall_seconds=job.transcode.stall_seconds,
            started=started,
            pass_fds=(job.original, job.output.fd),
        )
        if result.returncode != 0:
            return result
        report = await asyncio.to_thread(
            chunk_join.seams, output, chunk_join.join_times(plan), expected_frames=frames
        )
        if not report.clean:
            return ffmpeg.Result(
                returncode=1, stderr_tail="the joined segments: " + "; ".join(report.problems)
            )
        log.info("job %d: %d segments joined, %d frames, no seam", job.id, len(plan), report.frames)
        return result


def _plan_text(plan: list[chunks.Segment]) -> str:
    return json.dumps([[s.start, s.end] for s in plan])


async def _ignore(_: ffmpeg.Progress) -> None:
    return None
