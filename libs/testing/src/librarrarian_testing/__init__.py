"""Test support shared by every service's tests: real servers, real clips, polling helpers."""

from .consumers import handled
from .polling import eventually

__all__ = ["eventually", "handled"]
