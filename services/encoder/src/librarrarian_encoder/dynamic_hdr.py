"""HDR metadata that changes from scene to scene (Dolby Vision, HDR10+): what of it an encode keeps, and what
the job says it dropped. Pure decisions, and one look at the original's first frames.

Dolby Vision profile 5 never reaches an encoder (the scheduler skips it: its base layer alone shows wrong
colours). Profiles 8 and 10 keep their base layer (HDR10, SDR or HLG, signalled as the source's) and, with
libx265 or SVT-AV1 in an FFmpeg that writes Dolby Vision (7 and later), their RPUs and configuration record;
profile 7's enhancement layer cannot be re-encoded, so it keeps its HDR10 base layer only. HDR10+ is
dropped by every encoder here (none passes it through); its HDR10 base stays.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
from av.sidedata.sidedata import Type as SideDataType
from librarrarian_contracts import MediaProbe, Transcode
from librarrarian_media import reading
from librarrarian_media.ffmpeg_builds import DOLBY_VISION_ENCODERS

from .profiles import Profile

# Frames looked at for HDR10+: its metadata comes with every frame of a scene, so the first ones say it.
FRAMES_LOOKED_AT = 3


@dataclass(frozen=True)
class DynamicHdr:
    """What the encode does with the source's dynamic metadata: ``dolby_vision`` writes it again; ``notes``
    say what is lost."""

    dolby_vision: bool = False
    notes: tuple[str, ...] = ()


def plan(probe: MediaProbe, profile: Profile, writes_dolby_vision: bool) -> DynamicHdr:
    """Whether ``profile``'s encoder keeps the source's Dolby Vision, and what the job says when it cannot."""
    stream = probe.dolby_vision()
    if stream is None:
        return DynamicHdr()
    dv = stream.dv_profile
    base = {1: "HDR10", 2: "SDR", 4: "HLG", 6: "HDR10"}.get(stream.dv_compatibility or 0, "base")
    if dv == 7:
        why = "its enhancement layer cannot be re-encoded"
    elif dv not in (8, 10):
        why = f"profile {dv} is re-encoded without it here"
    elif profile.encoder not in DOLBY_VISION_ENCODERS:
        why = f"{profile.encoder} cannot write it"
    elif not writes_dolby_vision:
        why = f"this node's ffmpeg cannot write it with {profile.encoder} (FFmpeg 7 or later can)"
    else:
        return DynamicHdr(dolby_vision=True)
    return DynamicHdr(notes=(f"Dolby Vision profile {dv} dropped ({why}); the {base} layer is kept",))


def refused(probe: MediaProbe) -> str | None:
    """Why the encoder will not touch the file although it was sent (a job queued before the scheduler
    skipped such files): Dolby Vision profile 5, whose colours a re-encode without its RPUs spoils."""
    stream = probe.dolby_vision()
    if stream is not None and stream.dv_profile == 5:
        return "Dolby Vision profile 5: without its Dolby Vision layer its colours are wrong; original kept"
    return None


def has_hdr10_plus(original: int) -> bool:
    """Whether the original's first frames carry HDR10+ (SMPTE ST 2094-40) metadata. Read through the
    job's open descriptor, as ffmpeg reads it."""
    try:
        with av.open(reading.descriptor_path(original), container_options=reading.OPTIONS) as container:
            if not container.streams.video:
                return False
            for index, frame in enumerate(container.decode(video=0)):
                found = frame.side_data  # a container of SideData (the stubs say a single one)
                if any(data.type == SideDataType.DYNAMIC_HDR_PLUS for data in found):  # type: ignore[attr-defined]
                    return True
                if index + 1 >= FRAMES_LOOKED_AT:
                    return False
    except (av.FFmpegError, OSError):
        return False  # the encode says what is wrong with the file
    return False


HDR10_PLUS_DROPPED = "HDR10+ dynamic metadata dropped (no encoder here carries it); the HDR10 layer is kept"


def is_pq(request: Transcode) -> bool:
    """Whether the main video is PQ (HDR10, maybe with HDR10+): only then are its frames looked at."""
    videos = [s for s in request.probe.streams if s.kind == "video" and not s.attached_pic]
    return bool(videos) and videos[0].color_transfer == "smpte2084"
