"""The encode step: the job's hardware class when this node has it working, else the CPU; a hardware encode
that fails is done again on the CPU, with the reason kept. Running encodes can be paused and resumed
(SIGSTOP/SIGCONT), and a stalled one is stopped."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from librarrarian_contracts import JobFailed, Transcode
from librarrarian_contracts.settings import Quality
from librarrarian_contracts.topology import HwClass
from librarrarian_media import reading

from . import dynamic_hdr, ffmpeg, quality_choice
from .binaries import Binaries
from .job import Encoded, Planned
from .profiles import Profile, profile_for
from .progress import ProgressBucket
from .quality_choice import Chosen, SearchMemory
from .segmented import Segmenter

log = logging.getLogger(__name__)


class Encodes:
    """This node's running encodes."""

    def __init__(
        self,
        binaries: Binaries,
        progress: ProgressBucket,
        codecs: dict[HwClass, tuple[str, ...]],
        memory: SearchMemory | None = None,
        segmenter: Segmenter | None = None,
    ) -> None:
        self.binaries = binaries  # each class's ffmpeg
        self.memory = memory  # where quality searches start for a series
        self.segmenter = segmenter  # long files in segments, across the class's nodes (by the settings)
        self.progress = progress
        self.codecs = codecs  # what each usable class can encode on this node
        # What runs here, by job (or by job and segment, for a segment encoded for another node).
        self.encodings: dict[object, ffmpeg.Encoding] = {}
        self.paused = False

    def pause(self) -> None:
        """Suspend every running encode (SIGSTOP); the heartbeat goes on, so the jobs stay ours."""
        self.paused = True
        for encoding in self.encodings.values():
            encoding.pause()

    def resume(self) -> None:
        self.paused = False
        for encoding in self.encodings.values():
            encoding.resume()

    async def encode(self, job: Planned, chosen: Chosen | None = None) -> Encoded | JobFailed:
        """The job's output written, or why there is none: at the ``chosen`` quality, or the one chosen now
        (by the settings' mode: a search first, by target)."""
        profile, fallback_reason = self._profile(job.request)
        if chosen is None:
            chosen = await self._choose(job, profile)
        result = await self._segmented(job, profile, chosen.quality)
        if result is None:
            result = await self._run(job, profile, chosen.quality)
        cpu_can = job.request.target_codec in self.codecs.get(HwClass.CPU, ())
        if (
            result.returncode != 0
            and result.stalled_after is None
            and profile.hw is not HwClass.CPU
            and cpu_can
        ):
            fallback_reason = f"{profile.encoder} failed: {result.last_error}"
            log.warning("job %d: %s; encoding on the CPU instead", job.id, fallback_reason)
            cpu = profile_for(HwClass.CPU, job.request.target_codec)
            assert cpu is not None
            profile = cpu
            # The level found was on the other encoder's scale: the CPU takes its own fixed level.
            probe = job.request.planned()
            chosen = Chosen.fixed(
                job.transcode.quality_for(profile.family, probe.width, probe.height),
                "" if not chosen.by_target else "the hardware encode failed: the CPU took its fixed level",
            )
            result = await self._run(job, profile, chosen.quality)
        if result.stalled_after is not None:
            return job.failed(
                f"stalled: no progress for {result.stalled_after:.0f} s; ffmpeg was stopped",
                result.stderr_tail,
            )
        if result.returncode != 0:
            return job.failed(
                f"{profile.encoder} failed (ffmpeg exit {result.returncode}): {result.last_error}",
                _with_fallback(result.stderr_tail, fallback_reason),
            )
        kept = self._dynamic_hdr(job, profile)
        for note in kept.notes:
            log.info("job %d: %s", job.id, note)
        return Encoded(
            **{**job.carried(), "notes": job.notes + kept.notes},
            encoder=profile.encoder,
            fallback_reason=fallback_reason,
            ffmpeg_log=result.stderr_tail,
            chosen=chosen,
        )

    def _profile(self, request: Transcode) -> tuple[Profile, str | None]:
        """The job's class's encoder when this node has it working; otherwise the CPU one, with why."""
        codec = request.target_codec
        if codec in self.codecs.get(HwClass(request.hw_class), ()):
            profile = profile_for(request.hw_class, codec)
            if profile is not None:
                return profile, None
        cpu = profile_for(HwClass.CPU, codec)
        assert cpu is not None
        return cpu, f"{request.hw_class} cannot encode {codec} on this node"

    def _dynamic_hdr(self, job: Planned, profile: Profile) -> dynamic_hdr.DynamicHdr:
        writes = self.binaries.writes_dolby_vision(profile.hw, profile.encoder)
        return dynamic_hdr.plan(job.request.probe, profile, writes)

    async def _choose(self, job: Planned, profile: Profile) -> Chosen:
        """The quality for ``profile``: a search's samples are paused and resumed like an encode."""
        try:
            return await quality_choice.choose(
                job.request,
                job.transcode,
                profile,
                source=job.source,
                original=job.original,
                encoder_ffmpeg=self.binaries.for_class(profile.hw),
                vmaf_ffmpeg=self.binaries.vmaf,
                memory=self.memory,
                started=self._started(job),
                progress=self.progress.searching(job),
            )
        finally:
            self.encodings.pop(job.id, None)

    def _started(self, job: Planned) -> Callable[[ffmpeg.Encoding], None]:
        return self.started_as(job.id)

    def started_as(self, key: object) -> Callable[[ffmpeg.Encoding], None]:
        """What ffmpeg's runner calls once the encode runs: it is paused and resumed with the node's."""

        def started(encoding: ffmpeg.Encoding) -> None:
            self.encodings[key] = encoding
            if self.paused:
                encoding.pause()

        return started

    async def _segmented(self, job: Planned, profile: Profile, quality: Quality) -> ffmpeg.Result | None:
        """The file encoded in segments across the class's nodes, when the settings say so for its length;
        None: encoded whole. Dolby Vision stays whole (its per-frame metadata is written by one encode)."""
        if self.segmenter is None or not job.transcode.segments_for(job.request.probe.duration):
            return None
        if self._dynamic_hdr(job, profile).dolby_vision:
            return None
        return await self.segmenter.encode(job, profile, quality, self._started(job))

    async def _run(self, job: Planned, profile: Profile, quality: Quality) -> ffmpeg.Result:
        probe = job.request.planned()
        binary = self.binaries.for_class(profile.hw)
        # ffmpeg reads the original and writes the output through the descriptors the plan opened: no name
        # in the library is looked up again, so nothing renamed or planted there since redirects it.
        argv = ffmpeg.build_argv(
            binary,
            Path(reading.descriptor_path(job.original)),
            Path(reading.descriptor_path(job.output.fd)),
            probe,
            profile,
            quality,
            job.id,
            suffix=job.final.suffix,
            dolby_vision=self._dynamic_hdr(job, profile).dolby_vision,
            streams=job.request.streams,
        )

        try:
            return await ffmpeg.run(
                argv,
                self.progress.reporter(job),
                stall_seconds=job.transcode.stall_seconds,
                started=self._started(job),
                pass_fds=(job.original, job.output.fd),
            )
        finally:
            self.encodings.pop(job.id, None)


def _with_fallback(stderr_tail: str, fallback_reason: str | None) -> str:
    return f"{fallback_reason}\n(then on the CPU:)\n{stderr_tail}" if fallback_reason else stderr_tail
