"""Reading media files in-process with PyAV: what streams a file has, and whether its video data is there."""

from .probe import ProbeError, probe

__all__ = ["ProbeError", "probe"]
