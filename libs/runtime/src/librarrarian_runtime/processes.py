"""Child processes that never outlive their parent (an ffmpeg, a supervised service)."""

from __future__ import annotations

import ctypes
import signal

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: signal.Signals = signal.SIGKILL) -> None:
    """Runs in the child between fork and exec: the kernel sends ``sig`` when the parent dies,
    even if the parent is killed with SIGKILL and never gets to clean up."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, int(sig))


def terminate_with_parent() -> None:
    """``die_with_parent`` with SIGTERM, so the child still gets to stop gracefully."""
    die_with_parent(signal.SIGTERM)
