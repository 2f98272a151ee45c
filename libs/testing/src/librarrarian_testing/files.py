"""Files as the tests need them on disk: with an age of their choosing."""

from __future__ import annotations

import os
import time
from pathlib import Path

DAY = 86_400.0


def aged(path: Path, days: float, content: bytes = b"x" * 100) -> Path:
    """Write ``content`` at ``path`` (making its folders) and date it ``days`` ago."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    then = time.time() - days * DAY
    os.utime(path, (then, then))
    return path
