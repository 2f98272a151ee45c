"""The scheduler's figures for monitoring (``scheduler.metrics``) against a real scheduler and PostgreSQL: jobs
per state and kind as the triggers keep them, through intake, release and deletion."""

from __future__ import annotations

import pytest
from librarrarian_contracts import FileIdentity, StaleFileFound, publish, topology
from librarrarian_contracts.views import (
    ClearedJobs,
    ClearPending,
    Nothing,
    QueueMetrics,
    ReleasedJobs,
    ReleaseJobs,
)
from librarrarian_runtime.queries import ask
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext


async def depth(nc: Client) -> dict[tuple[str, str], int]:
    metrics = await ask(nc, topology.SCHEDULER_METRICS, Nothing(), QueueMetrics)
    assert metrics.outbox_lag_seconds >= 0 and metrics.outbox_due >= 0
    return {(d.status.value, d.kind.value): d.jobs for d in metrics.depth}


@pytest.mark.usefixtures("scheduler")
async def test_jobs_are_counted_per_state_and_kind(bus: tuple[Client, JetStreamContext]) -> None:
    nc, js = bus
    assert await depth(nc) == {}
    for n, path in enumerate(("/m/.tmp_a", "/m/.tmp_b", "/m/a.lock")):
        identity = FileIdentity(size=10, mtime_ns=1, inode=n + 1)
        await publish(js, StaleFileFound(path=path, identity=identity, why="untouched"))

    async def counted(wanted: dict[tuple[str, str], int]) -> bool:
        return await depth(nc) == wanted

    await eventually(lambda: counted({("awaiting_approval", "cleanup"): 3}), message="3 awaiting approval")
    await ask(nc, topology.SCHEDULER_RELEASE, ReleaseJobs(kind="cleanup"), ReleasedJobs)
    await eventually(lambda: counted({("pending", "cleanup"): 3}), message="3 pending")
    await ask(nc, topology.SCHEDULER_CLEAR, ClearPending(kind="cleanup"), ClearedJobs)
    await eventually(lambda: counted({}), message="none left")
