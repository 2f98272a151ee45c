"""Test support shared by every service's tests: real servers, real clips, polling helpers."""

from .consumers import WORK_ACK_WAIT_SECONDS, handled
from .polling import eventually

__all__ = ["WORK_ACK_WAIT_SECONDS", "eventually", "handled"]
