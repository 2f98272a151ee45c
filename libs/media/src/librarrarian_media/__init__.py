"""Reading media files in-process with PyAV: what streams a file has, and whether its video data is there;
and the ffmpeg builds at hand, with which one serves each purpose (``ffmpeg_builds``, ``ffmpeg_choice``)."""

from .probe import ProbeError, probe

__all__ = ["ProbeError", "probe"]
