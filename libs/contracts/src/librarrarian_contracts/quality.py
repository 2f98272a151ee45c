"""Quality by target: what a job's quality search chose and what its check measured (carried by
``job.completed`` and kept in the history), and what a search remembers for the next file of the same series
(the ``quality`` bucket).

Scores are VMAF (0-100). ``measured`` is the mean over the finished file's sampled segments; ``low`` the 5th
percentile of their frames and ``worst`` the worst segment's mean: a mean alone hides the scene that looks bad.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

import msgspec

from .stamps import utcnow

QualityMode = Literal["fixed", "target"]


class QualityChoice(msgspec.Struct, frozen=True, kw_only=True):
    """How one output's quality level was chosen, and how it turned out."""

    mode: QualityMode
    level: int  # the encoder's own scale (CRF, CQ, global_quality, QP, or VideoToolbox's -q:v)
    fixed_level: int  # what fixed mode would have used for this file
    target: float | None = None  # the VMAF asked for (target mode)
    predicted: float | None = None  # the search's score of its samples at ``level``
    measured: float | None = None  # the finished file's mean VMAF over sampled segments
    low: float | None = None  # the 5th percentile of those segments' frames
    worst: float | None = None  # the worst segment's mean
    samples: int = 0  # sample encodes the search made
    search_seconds: float = 0.0
    reused: bool = False  # the search started where an earlier file of the same series ended
    reencoded: bool = False  # the first encode missed the target; this is the one-step-better second
    # The output's size at ``fixed_level``, estimated from the search's samples (bytes saved against fixed mode)
    fixed_bytes: int | None = None
    note: str = ""  # why target mode was not applied (an HDR source), or why the target was not reached


class QualityMemory(msgspec.Struct, frozen=True, kw_only=True):
    """The level a search ended at, for one series folder, source resolution, encoder and target."""

    level: int
    score: float
    folder: str
    updated_at: datetime = msgspec.field(default_factory=utcnow)


def memory_key(folder: str, tier: str, encoder: str, preset: str, target: float) -> str:
    """The ``quality`` bucket's key: a digest, since folder names hold characters keys may not."""
    digest = hashlib.sha256(f"{folder}\0{tier}\0{encoder}\0{preset}\0{target:g}".encode()).hexdigest()
    return digest[:32]
