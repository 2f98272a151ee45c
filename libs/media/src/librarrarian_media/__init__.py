"""Reading media files in-process with PyAV: what streams a file has, and whether its video data is there;
how libav may read a library file at all (``reading``); and the ffmpeg builds at hand, with which one
serves each purpose (``ffmpeg_builds``, ``ffmpeg_choice``)."""

from .probe import ProbeError, probe

__all__ = ["ProbeError", "probe"]
