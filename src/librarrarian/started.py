"""What ``librarrarian up`` started, and what a data directory is held by.

One ``up`` (or a backup or restore that starts the servers itself) holds its data directory with a lock the
kernel drops when the process ends, however it ends. Whoever holds it may take a server still running there
for a leftover of a process that was killed outright, and stop it or use it again: nobody else uses it.

On a forced exit (a second Ctrl-C given on purpose), ``Started.stop_now`` stops at once, without waiting on
the event loop, everything ``up`` started that would otherwise outlive it: the services (SIGKILL to each
process group) and the NATS and PostgreSQL servers (each in its own session, so no signal of the terminal
reaches them)."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

from librarrarian_embedded import nats_server, postgres

from .supervisor import Supervisor, signal_group

log = logging.getLogger(__name__)

LOCK_FILE = "up.lock"
NATS_STOP_SECONDS = 5.0


class Held(Exception):
    """Another process holds the data directory."""


def hold(data_dir: Path) -> int:
    """Lock ``data_dir`` for this process's life; the descriptor that holds the lock. ``Held`` when another
    process has it. The descriptor is not inherited by the programs started (close-on-exec): a server left
    running must not keep the directory locked."""
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise Held(f"another librarrarian process uses {data_dir}") from None
    return fd


@dataclass
class Started:
    """Filled in as ``up`` starts things; ``stop_now`` stops them."""

    nats_dir: Path | None = None
    postgres_dir: Path | None = None
    supervisor: Supervisor | None = None
    groups: set[int] = field(default_factory=set)  # process groups of one-off steps (provisioning)

    def stop_now(self) -> None:
        if self.supervisor is not None:
            self.supervisor.kill_all()
        for group in self.groups:
            signal_group(group, signal.SIGKILL)
        # Found by what they wrote in their data directories, so that a server still starting is stopped too.
        if self.nats_dir is not None:
            with contextlib.suppress(OSError):
                nats_server.stop_running_in(self.nats_dir, NATS_STOP_SECONDS)
                log.info("stopped NATS")
        if self.postgres_dir is not None:
            postgres.stop_running_in(self.postgres_dir)
            log.info("stopped PostgreSQL")
