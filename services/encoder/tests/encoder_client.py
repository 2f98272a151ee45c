"""Around a real encoder in a test: the work to give it, running one (in the test's loop or as a process of
its own), the scheduler it asks for commits (a fake that records every report), its entry in the ``nodes``
bucket, its ffmpeg processes, and showing that something does not happen."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import msgspec
from librarrarian_contracts import FileIdentity, JobReport, JobStarted, Transcode, topology
from librarrarian_contracts.codec import job_decoder
from librarrarian_contracts.views import CommitDecision, CommitRequest, JobProgress, NodeStatus
from librarrarian_encoder import failpoints, replace, service
from librarrarian_encoder.clock import Clock
from librarrarian_encoder.settings import Settings
from librarrarian_media import probe
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext

Report = TypeVar("Report", bound=JobReport)

NODE = "node-c"  # the encoder ``node_starter`` starts


@dataclass
class Scheduler:
    """Grants or denies commits, and records every commit request, job report and progress value seen."""

    grant: bool = True
    before_grant: Callable[[CommitRequest], None] | None = None  # what happens between the ask and the answer
    requests: list[CommitRequest] = field(default_factory=list)
    outputs: dict[int, list[FileIdentity]] = field(default_factory=dict)
    events: list[JobReport] = field(default_factory=list)
    progress: list[JobProgress] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)

    def of(self, kind: type[Report]) -> list[Report]:
        return [e for e in self.events if isinstance(e, kind)]

    async def start(self, nc: Client, js: JetStreamContext) -> Scheduler:
        async def on_commit(msg: Msg) -> None:
            request = msgspec.json.decode(msg.data, type=CommitRequest)
            self.requests.append(request)
            if self.before_grant is not None:
                self.before_grant(request)
            # As the scheduler: each grant's output is kept, and every grant names the job's outputs.
            if self.grant and request.output is not None:
                self.outputs.setdefault(request.job_id, []).append(request.output)
            outputs = tuple(self.outputs.get(request.job_id, ())) if self.grant else ()
            decision = CommitDecision(granted=self.grant, reason="" if self.grant else "no", outputs=outputs)
            await msg.respond(msgspec.json.encode(decision))

        async def on_event(msg: Msg) -> None:
            self.events.append(job_decoder.decode(msg.data))

        async def on_progress(msg: Msg) -> None:
            if msg.data:
                self.progress.append(msgspec.json.decode(msg.data, type=JobProgress))

        self.subscriptions = [
            await nc.subscribe(topology.SCHEDULER_COMMIT, cb=on_commit),
            await js.subscribe("job.>", ordered_consumer=True, cb=on_event),
            await nc.subscribe(f"$KV.{topology.PROGRESS.name}.>", cb=on_progress),
        ]
        return self

    async def stop(self) -> None:
        for sub in self.subscriptions:
            await sub.unsubscribe()


class ManualClock:
    """A clock that stands still until the test moves it; whoever sleeps until a moment wakes when the
    test reaches it."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._moved = asyncio.Event()

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when
        self._moved.set()
        self._moved = asyncio.Event()

    async def sleep_until(self, when: datetime) -> None:
        while self._now < when:
            await self._moved.wait()


def work(path: Path, job_id: int = 1, attempt: int = 1) -> Transcode:
    """The work message the scheduler would send for ``path`` as it is now."""
    identity = replace.identity(os.stat(path))
    return Transcode(
        job_id=job_id, attempt=attempt, path=str(path.resolve()), identity=identity, probe=probe(path)
    )


async def outcome(fake: Scheduler, job_id: int) -> JobReport:
    """The job's first report after ``started``."""

    def final() -> JobReport | None:
        ended = [e for e in fake.events if e.job_id == job_id and not isinstance(e, JobStarted)]
        return ended[0] if ended else None

    return await eventually(final, timeout=120, message=f"job {job_id} outcome")


def node_settings(nats_url: str, root: Path, node: str, **changes: object) -> Settings:
    """An encoder's settings on the test's NATS, with ``root`` as its only media path."""
    settings = Settings(nats_url=nats_url, media_paths=(root.resolve(),), node=node)
    return dataclasses.replace(settings, **changes)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def running_encoder(
    settings: Settings, stop_seconds: float = 30.0, clock: Clock | None = None
) -> AsyncIterator[Settings]:
    """An encoder in the test's event loop for the block's length, stopped as SIGTERM would stop it (and
    expected to be stopped within ``stop_seconds``); on ``clock``'s time when given."""
    stopping = asyncio.Event()
    task = asyncio.create_task(service.run(settings, stopping, clock))
    try:
        yield settings
    finally:
        stopping.set()
        await asyncio.wait_for(task, stop_seconds)


def encoder_environment(
    nats_url: str, root: Path, node: str, *, failpoint: str | None = None
) -> dict[str, str]:
    """What an encoder process of its own reads its settings from (see ``encoder_process``)."""
    env = {
        **os.environ,
        "NATS_URL": nats_url,
        "MEDIA_PATHS": str(root.resolve()),
        "NODE_NAME": node,
    }
    if failpoint is not None:
        env[failpoints.VARIABLE] = failpoint
    return env


async def encoder_process(env: dict[str, str]) -> asyncio.subprocess.Process:
    """An encoder as a process of its own (``python -m librarrarian_encoder``), for a test to kill."""
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "librarrarian_encoder", env=env)


async def node_status(js: JetStreamContext, name: str) -> NodeStatus:
    """The node's entry in the ``nodes`` bucket, once there is one."""
    kv = await js.key_value(topology.NODES.name)

    async def read() -> NodeStatus | None:
        try:
            entry = await kv.get(name)
        except Exception:  # noqa: BLE001 - not written yet
            return None
        return msgspec.json.decode(entry.value or b"", type=NodeStatus)

    status: NodeStatus = await eventually(read, timeout=30, message=f"{name} in the nodes bucket")
    return status


def encoding_ffmpeg(source: Path, job_id: int = 1) -> list[int]:
    """The pids of the ffmpeg encoding ``source`` for ``job_id``: the ffmpeg holding the job's temporary
    output open (it is handed a descriptor, so no name shows in its command line). That output lies in the
    test's own library, so an ffmpeg of another test run on the machine is never taken for it."""
    prefix = str(source.resolve().parent / f"{replace.TEMP_PREFIX}{job_id}-")
    return [pid for pid in processes_holding(prefix) if "ffmpeg" in _program(pid)]


def processes_holding(prefix: str) -> list[int]:
    """The pids of the processes with a file open whose path starts with ``prefix``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if any(os.readlink(fd).startswith(prefix) for fd in (entry / "fd").iterdir()):
                    found.append(int(entry.name))
            except OSError:
                continue  # gone meanwhile, or not ours to look at
    return found


def _program(pid: int) -> str:
    try:
        return Path(Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")).name
    except OSError:
        return ""


def process_state(pid: int) -> str:
    """R, S (running, sleeping) or T (stopped by a signal), from /proc."""
    return _stat(pid)[0]


def cpu_ticks(pid: int) -> int:
    """The CPU time the process used so far (user and system, in clock ticks)."""
    fields = _stat(pid)
    return int(fields[11]) + int(fields[12])


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


async def holds(
    condition: Callable[[], Awaitable[bool]] | Callable[[], bool], *, seconds: float, message: str
) -> None:
    """Show that something does not happen: ``condition`` (which a change would make false) is checked
    again and again for ``seconds``, and the test fails at the first check that finds it false."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        assert result, f"{message} stopped holding"
        await asyncio.sleep(0.05)
