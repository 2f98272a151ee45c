"""Named moments where a test can kill a service outright (``LIBRARRARIAN_FAILPOINT=<name>``): the worst
moments for the user's files, so that the tests prove they survive them. Unset, each point is one dict
lookup. The encoder's points: ``output-created``, ``verifying``, ``after-commit``, ``after-rename``; the cleanup's:
``before-unlink``, ``after-unlink``."""

from __future__ import annotations

import os
import signal

VARIABLE = "LIBRARRARIAN_FAILPOINT"


def reach(name: str) -> None:
    if os.environ.get(VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)
