"""Named moments where a test can kill a service outright (``LIBRARRARIAN_FAILPOINT=<name>``): the worst
moments for the user's files, so that the tests prove they survive them. Unset, each point is one dict
lookup. The encoder's points: ``output-created``, ``verifying``, ``after-commit``, ``after-rename``; the cleanup's:
``before-unlink``, ``after-unlink``.

A point reached with ``await held(name)`` can also hold (``LIBRARRARIAN_FAILPOINT=hold:<name>``): the task
that reached it waits there while the rest of the service goes on, so a test can act at that moment (kill
the service, stop it, let the task go) while other work is under way beside it."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

VARIABLE = "LIBRARRARIAN_FAILPOINT"
HOLD = "hold:"
# The file whose creation lets a held task go on; the task creates this name with ``.held`` added when it
# gets to the point.
RELEASE_VARIABLE = "LIBRARRARIAN_FAILPOINT_RELEASE"
HELD_SUFFIX = ".held"
_POLL_SECONDS = 0.05


def reach(name: str) -> None:
    if os.environ.get(VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)


async def held(name: str) -> None:
    """``reach``, or hold the calling task at the point until the release file exists (see above)."""
    reach(name)
    if os.environ.get(VARIABLE) != HOLD + name:
        return
    release = Path(os.environ[RELEASE_VARIABLE])
    await asyncio.to_thread(Path(f"{release}{HELD_SUFFIX}").touch)
    # Polled: the release comes from another process (the test), through the file system.
    while True:
        if await asyncio.to_thread(release.exists):
            return
        await asyncio.sleep(_POLL_SECONDS)
