"""What a node writes for the dashboard and the scheduler: its entry in the ``nodes`` bucket and its jobs'
progress. A write that fails is said once per streak of failures, with the reason, and once when it works
again: not once a second, and not never (a node whose entry expires drops out of placement)."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec
import pytest
from librarrarian_contracts import provision, topology
from librarrarian_contracts.settings import NodeControl, TranscodeSettings, node_key
from librarrarian_contracts.views import JobProgress
from librarrarian_encoder.ffmpeg import Progress
from librarrarian_encoder.folder import Folder
from librarrarian_encoder.job import Planned
from librarrarian_encoder.progress import ProgressBucket
from librarrarian_encoder.replace import Output
from librarrarian_encoder.settings import Settings
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from .encoder_client import NODE, node_status, work


def streak_lines(caplog: pytest.LogCaptureFixture, logger: str, what: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger and r.getMessage().startswith(what)]


def failed_tries(record: logging.LogRecord) -> int:
    found = re.search(r"works again after (\d+) failed tries", record.getMessage())
    assert found, record.getMessage()
    return int(found.group(1))


async def test_progress_that_cannot_be_written_is_said_once_per_streak(
    bus: tuple[Client, JetStreamContext], shared_media: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, js = bus
    caplog.set_level(logging.INFO, logger="librarrarian_encoder.progress")
    kv = await js.key_value(topology.PROGRESS.name)
    progress = ProgressBucket(kv)
    source = shared_media / "bikes.mp4"
    folder = Folder(source.parent, -1, ())  # never opened: the reporter touches no file
    job = Planned(
        request=work(source, job_id=7),
        delivery=1,
        node="node-p",
        transcode=TranscodeSettings(),
        mappings=(),
        source=source,
        final=source,
        folder=folder,
        original=-1,
        output=Output("unused", -1),
    )
    report = progress.reporter(job)

    await js.delete_key_value(topology.PROGRESS.name)  # every write fails until the bucket is back
    for second in range(1, 4):
        await report(Progress(out_seconds=second, fps=25.0, speed=1.0, done=True))  # done: not held back
    await progress.clear(job.id)
    await provision(js)
    last = Progress(out_seconds=5.0, fps=25.0, speed=1.0, done=True)
    await report(last)

    warning, recovered = streak_lines(caplog, "librarrarian_encoder.progress", "writing to the 'progress'")
    assert warning.levelno == logging.WARNING and "failed" in warning.getMessage()
    assert recovered.levelno == logging.INFO and failed_tries(recovered) == 4
    written = msgspec.json.decode((await kv.get("7")).value or b"", type=JobProgress)
    assert written.node == "node-p" and written.percent == round(last.percent(job.request.probe.duration), 1)


async def test_a_node_that_cannot_write_its_entry_says_so_once_per_streak(
    bus: tuple[Client, JetStreamContext],
    node_starter: Callable[..., Awaitable[Settings]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    nc, js = bus
    caplog.set_level(logging.INFO, logger="librarrarian_encoder.node")
    await node_starter()
    settings = await js.key_value(topology.SETTINGS.name)

    # The bucket is gone: each write of the node's entry reaches this subscriber, and nothing answers it.
    await js.delete_key_value(topology.NODES.name)
    attempts: list[Msg] = []

    async def on_attempt(msg: Msg) -> None:
        attempts.append(msg)

    observer = await nc.subscribe(f"$KV.{topology.NODES.name}.{NODE}", cb=on_attempt)
    try:
        # A change is written at once (besides every heartbeat): pausing and resuming make writes too.
        await settings.put(node_key(NODE), msgspec.json.encode(NodeControl(state="paused")))
        await eventually(lambda: len(attempts) >= 1, timeout=30, message="a write tried")
        await settings.put(node_key(NODE), msgspec.json.encode(NodeControl(state="running")))
        await eventually(lambda: len(attempts) >= 2, timeout=30, message="another write tried")
        failed = len(attempts)
        await provision(js)  # the bucket is back
        assert (await node_status(js, NODE)).state == "running"
    finally:
        await observer.unsubscribe()

    what = f"writing node {NODE}'s entry in the 'nodes' bucket"
    # The entry can be read back before the writer's task resumes to say it works again.
    await eventually(
        lambda: len(streak_lines(caplog, "librarrarian_encoder.node", what)) == 2,
        timeout=30,
        message="recovered",
    )
    warning, recovered = streak_lines(caplog, "librarrarian_encoder.node", what)
    assert warning.levelno == logging.WARNING and "failed" in warning.getMessage()
    assert recovered.levelno == logging.INFO and failed_tries(recovered) >= failed >= 2
