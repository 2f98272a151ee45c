"""Runs each service as its own process, restarts one that crashes (with backoff), stops them all.

Children get their own session, so a Ctrl-C in the terminal reaches only the supervisor, which then stops
them in order; and a parent-death signal, so a supervisor that is killed outright takes them with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

from librarrarian_runtime.processes import terminate_with_parent

log = logging.getLogger(__name__)


@dataclass
class Child:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    stop_timeout: float = 15.0
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: float = 0.0
    exits: list[int] = field(default_factory=list)


class Supervisor:
    """``await run(stopping)`` keeps every child alive until ``stopping`` is set, then stops them."""

    def __init__(
        self,
        children: Sequence[Child],
        *,
        min_backoff: float = 1.0,
        max_backoff: float = 30.0,
        stable_after: float = 60.0,
    ) -> None:
        self.children = list(children)
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.stable_after = stable_after
        self._stopping = asyncio.Event()
        self._running = asyncio.Event()  # cleared while paused: children that exit are not started again
        self._running.set()

    async def _spawn(self, child: Child) -> asyncio.subprocess.Process:
        child.process = await asyncio.create_subprocess_exec(
            *child.argv,
            env=dict(child.env),
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=terminate_with_parent,
        )
        child.started_at = time.monotonic()
        log.info("started %s (pid %d)", child.name, child.process.pid)
        return child.process

    async def _keep_alive(self, child: Child) -> None:
        backoff = self.min_backoff
        while not self._stopping.is_set():
            if not self._running.is_set():
                await self._until_resumed()
                continue
            process = await self._spawn(child)
            code = await process.wait()
            child.exits.append(code)
            if self._stopping.is_set():
                return
            if not self._running.is_set():
                continue  # stopped on purpose by paused()
            if time.monotonic() - child.started_at > self.stable_after:
                backoff = self.min_backoff  # it ran fine for a while: this is a fresh failure
            child.restarts += 1
            log.error(
                "%s exited with %d; restarting in %.0f s (restart %d)",
                child.name,
                code,
                backoff,
                child.restarts,
            )
            try:
                await asyncio.wait_for(self._stopping.wait(), backoff)
                return
            except TimeoutError:
                pass
            backoff = min(backoff * 2, self.max_backoff)

    async def run(self, stopping: asyncio.Event) -> None:
        keepers = [asyncio.create_task(self._keep_alive(c), name=c.name) for c in self.children]
        await stopping.wait()
        self._stopping.set()
        await self.stop_all()
        await asyncio.gather(*keepers, return_exceptions=True)

    @contextlib.asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        """Every child stopped (as at the end) for the block, then started again."""
        self._running.clear()
        try:
            await self.stop_all()
            log.info("services stopped")
            yield
        finally:
            self._running.set()
            log.info("starting the services again")

    async def _until_resumed(self) -> None:
        resumed = asyncio.create_task(self._running.wait())
        stopped = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({resumed, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            resumed.cancel()
            stopped.cancel()

    async def stop_all(self) -> None:
        """SIGTERM every child (in the order given), wait for each up to its timeout, then SIGKILL."""
        for child in self.children:
            process = child.process
            if process is None or process.returncode is not None:
                continue
            log.info("stopping %s", child.name)
            signal_group(process.pid, signal.SIGTERM)
        for child in self.children:
            process = child.process
            if process is None:
                continue
            try:
                await asyncio.wait_for(process.wait(), child.stop_timeout)
            except TimeoutError:
                log.warning("%s did not stop within %.0f s: killing it", child.name, child.stop_timeout)
            # Whatever is left of its process group (an ffmpeg it started) goes too.
            signal_group(process.pid, signal.SIGKILL)
            if process.returncode is None:
                await process.wait()

    def kill_all(self) -> None:
        """SIGKILL every child's process group at once, without waiting: for an exit that cannot wait."""
        self._stopping.set()
        for child in self.children:
            if child.process is not None and child.process.returncode is None:
                signal_group(child.process.pid, signal.SIGKILL)


def signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
