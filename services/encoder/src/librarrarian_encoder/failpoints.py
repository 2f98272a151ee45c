"""Named moments where a test can kill the encoder outright (``LIBRARRARIAN_FAILPOINT=<name>``): the worst
moments for the user's file, so that the tests prove it survives them. Unset, each point is one dict lookup."""

from __future__ import annotations

import os
import signal

VARIABLE = "LIBRARRARIAN_FAILPOINT"
POINTS = ("verifying", "after-commit", "after-rename")


def reach(name: str) -> None:
    if os.environ.get(VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)
