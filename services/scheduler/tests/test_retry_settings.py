"""``MAX_ATTEMPTS`` is only the first-start default of the ``scheduler.retries`` setting: a real scheduler
seeds it, follows a change without a restart, and leaves a stored value alone."""

from __future__ import annotations

import msgspec
from librarrarian_contracts import JobFailed, JobStarted, publish, topology
from librarrarian_contracts.settings import RETRIES_KEY, RetrySettings
from librarrarian_scheduler.settings import Settings
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext

from .scheduler_client import jobs, probed, pull_work, running_scheduler


async def stored(js: JetStreamContext) -> RetrySettings:
    entry = await (await js.key_value(topology.SETTINGS.name)).get(RETRIES_KEY)
    return msgspec.json.decode(entry.value or b"", type=RetrySettings)


async def put(js: JetStreamContext, max_attempts: int) -> None:
    kv = await js.key_value(topology.SETTINGS.name)
    await kv.put(RETRIES_KEY, msgspec.json.encode(RetrySettings(max_attempts=max_attempts)))


class Failing:
    """New files whose every attempt fails, each job followed until the scheduler fails it for good."""

    def __init__(self, nc: Client, js: JetStreamContext) -> None:
        self.nc, self.js, self.files = nc, js, 0

    async def attempts_until_failed(self) -> int:
        self.files += 1
        path = f"/m/failing-{self.files}.mp4"
        await publish(self.js, probed(path))
        while True:
            (work,) = await pull_work(self.js, 1)
            await publish(
                self.js,
                JobStarted(job_id=work.job_id, attempt=work.attempt, delivery=1, node="n1", path=path),
            )
            await publish(
                self.js,
                JobFailed(
                    job_id=work.job_id, attempt=work.attempt, node="n1", path=path, reason="boom", delivery=1
                ),
            )
            attempt = work.attempt
            status = await eventually(
                lambda: _settled(self.nc, path, attempt),  # noqa: B023 - awaited before the next turn
                message=f"{path} settled",
            )
            if status == "failed":
                return work.attempt

    async def fails_after(self, attempts: int) -> bool:
        return await self.attempts_until_failed() == attempts


async def _settled(nc: Client, path: str, attempt: int) -> str | None:
    """``failed``, or ``retry`` once the next attempt is on its way."""
    job = (await jobs(nc)).get(path, {})
    if job.get("status") == "failed":
        return "failed"
    if job.get("attempts", 0) > attempt:  # type: ignore[operator]
        return "retry"
    return None


async def test_max_attempts_is_seeded_then_followed_without_a_restart(
    bus: tuple[Client, JetStreamContext], nats_url: str, database_url: str
) -> None:
    nc, js = bus
    settings = Settings(nats_url=nats_url, database_url=database_url, max_attempts=2, retry_delay_seconds=0)
    async with running_scheduler(nc, settings):
        assert await stored(js) == RetrySettings(max_attempts=2)  # from MAX_ATTEMPTS
        failing = Failing(nc, js)
        assert await failing.attempts_until_failed() == 2
        await put(js, 1)
        await eventually(lambda: failing.fails_after(1), timeout=30, message="no retry after the change")
        await put(js, 3)
        await eventually(lambda: failing.fails_after(3), timeout=30, message="two retries after the change")


async def test_a_stored_max_attempts_wins_over_the_environment(
    bus: tuple[Client, JetStreamContext], nats_url: str, database_url: str
) -> None:
    nc, js = bus
    await put(js, 1)
    settings = Settings(nats_url=nats_url, database_url=database_url, max_attempts=5, retry_delay_seconds=0)
    async with running_scheduler(nc, settings):
        assert await Failing(nc, js).attempts_until_failed() == 1
        assert await stored(js) == RetrySettings(max_attempts=1)
