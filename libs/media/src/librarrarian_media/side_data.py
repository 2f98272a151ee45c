"""What a container says of its streams beyond codec and size: the Dolby Vision configuration record.

PyAV does not expose a stream's coded side data, but libavformat's own description of the file
(``av_dump_format``) lists it, in a form stable since FFmpeg 4.4: ``DOVI configuration record: version: 1.0,
profile: 8, level: 6, rpu flag: 1, el flag: 0, bl flag: 1, compatibility id: 1``. That description is logged
at INFO, which PyAV drops unless its log level lets it through; the level is one setting for the process, so
it is raised only while a description is taken, under a lock, and what is logged meanwhile by other threads
goes to the ``libav`` loggers (quiet below WARNING; see ``quiet_libav``).
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass

import av
import av.logging

_LEVEL = threading.Lock()
_STREAM = re.compile(r"^\s*Stream #\d+:(\d+)")
_DOVI = re.compile(r"DOVI configuration record:.*?profile: (\d+).*?compatibility id: (\d+)")


@dataclass(frozen=True)
class DolbyVision:
    profile: int
    compatibility: int  # the base layer's signal: 0 none, 1 HDR10, 2 SDR, 4 HLG (6: Blu-ray HDR10)


def quiet_libav() -> None:
    """What libav logs below WARNING (its INFO lines, while a description is taken) is not our log's."""
    logging.getLogger("libav").setLevel(logging.WARNING)


def dolby_vision(container: av.container.InputContainer) -> dict[int, DolbyVision]:
    """Stream index → its Dolby Vision configuration record, for the streams that have one."""
    quiet_libav()
    with _LEVEL:
        before = av.logging.get_level()
        av.logging.set_level(av.logging.INFO)
        try:
            text = container.dumps_format()  # type: ignore[attr-defined]  # not in PyAV's stubs
        finally:
            av.logging.set_level(before)
    return parse(text)


def parse(text: str) -> dict[int, DolbyVision]:
    found: dict[int, DolbyVision] = {}
    stream: int | None = None
    for line in text.splitlines():
        if (start := _STREAM.match(line)) is not None:
            stream = int(start.group(1))
        elif stream is not None and (record := _DOVI.search(line)) is not None:
            found[stream] = DolbyVision(int(record.group(1)), int(record.group(2)))
    return found
