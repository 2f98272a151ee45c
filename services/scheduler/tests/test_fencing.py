"""Commit fencing of reports: an outcome counts only from the delivery that holds the commit (or, before a
commit, from the one that runs the attempt); a forged report from another node is ignored and logged."""

from __future__ import annotations

import logging

import pytest
from librarrarian_contracts import (
    CleanupFinished,
    JobCompleted,
    JobFailed,
    JobReport,
    JobSkipped,
    JobStarted,
    publish,
    topology,
)
from librarrarian_scheduler.fencing import Delivery, Record, refusal
from librarrarian_testing import eventually, handled
from nats.aio.client import Client
from nats.js import JetStreamContext

from .scheduler_client import granted, jobs, probed, pull_work, status_is


def completed(node: str, delivery: int | None, attempt: int = 1, job_id: int = 1) -> JobCompleted:
    return JobCompleted(
        job_id=job_id,
        attempt=attempt,
        node=node,
        delivery=delivery,
        path="/m/a.mp4",
        output_path="/m/a.mkv",
        encoder="libx265",
        codec_before="h264",
        codec_after="hevc",
        size_before=1000,
        size_after=1,
        duration=5.3,
        elapsed_seconds=1.0,
    )


def failed(node: str, delivery: int | None, attempt: int = 1, job_id: int = 1) -> JobFailed:
    return JobFailed(
        job_id=job_id,
        attempt=attempt,
        node=node,
        delivery=delivery,
        path="/m/a.mp4",
        reason="forged",
        retryable=False,
    )


def skipped(node: str, delivery: int | None) -> JobSkipped:
    return JobSkipped(job_id=1, attempt=1, node=node, delivery=delivery, path="/m/a.mp4", reason="forged")


A1 = Delivery(1, 1, "a")
RUNNING = Record(status="running", holder=None, runner=A1, granted=False)
COMMITTED = Record(status="running", holder=A1, runner=A1, granted=True)


@pytest.mark.parametrize(
    ("report", "record", "counts"),
    [
        (completed("a", 1), COMMITTED, True),
        (completed("evil", 1), RUNNING, False),  # never granted the commit
        (completed("a", 1), RUNNING, False),  # running it is not holding the commit
        (completed("a", None), COMMITTED, False),  # names no delivery
        (failed("a", 1), RUNNING, True),
        (failed("evil", 1), RUNNING, False),
        (failed("a", 2), RUNNING, False),  # another delivery of the runner's node
        (failed("a", 1), COMMITTED, True),
        (skipped("b", 2), Record("running", Delivery(1, 2, "b"), A1, False), True),  # a later holder
        (skipped("a", 1), Record("running", Delivery(1, 2, "b"), A1, False), False),  # presumed dead
        (failed("anyone", None), Record("pending", None, None, False), True),  # nobody started it yet
        (failed("a", 1, attempt=2), Record("running", A1, Delivery(2, 1, "b"), False), False),
        (JobStarted(job_id=1, attempt=1, delivery=3, node="c", path="/m/a.mp4"), COMMITTED, True),
        (
            CleanupFinished(job_id=1, attempt=1, node="tidy", delivery=1, path="/m/.tmp_a", removed=True),
            Record("pending", Delivery(1, 1, "tidy"), None, True),
            True,
        ),
        (
            CleanupFinished(job_id=1, attempt=1, node="evil", delivery=1, path="/m/.tmp_a", removed=True),
            Record("pending", Delivery(1, 1, "tidy"), None, False),
            False,
        ),
    ],
)
def test_who_may_report_an_outcome(report: JobReport, record: Record, counts: bool) -> None:
    assert (refusal(report, record) is None) is counts


async def test_forged_reports_from_another_node_are_ignored_and_logged(
    bus: tuple[Client, JetStreamContext], scheduler: None, caplog: pytest.LogCaptureFixture
) -> None:
    nc, js = bus
    await publish(js, probed("/m/a.mp4"))
    (work,) = await pull_work(js, 1)
    job = work.job_id
    await publish(js, JobStarted(job_id=job, attempt=1, delivery=1, node="a", path=work.path))
    await eventually(lambda: status_is(nc, "/m/a.mp4", "running"))

    caplog.set_level(logging.WARNING, logger="librarrarian_scheduler.progress")
    forged: list[JobReport] = [
        completed("evil", 1, job_id=job),  # another node, never granted the commit
        completed("a", 1, job_id=job),  # the runner, before any commit
        failed("evil", 1, job_id=job),  # not the runner
        skipped("evil", 7),
        failed("a", 2, job_id=job),
    ]
    for report in forged:
        await publish(js, report)
    await handled(js, topology.SCHEDULER_JOBS)  # the scheduler took every report
    assert (await jobs(nc))["/m/a.mp4"]["status"] == "running"
    ignored = [r.getMessage() for r in caplog.records if "ignoring" in r.getMessage()]
    assert len(ignored) == len(forged), ignored
    assert "job.completed from attempt 1 delivery 1 on evil: " in ignored[0]

    await granted(nc, job, 1, delivery=1, node="a")
    await publish(js, failed("evil", 1, job_id=job))  # still not the holder
    await publish(js, completed("a", 1, job_id=job))
    await eventually(lambda: status_is(nc, "/m/a.mp4", "done"), message="the holder's completion counted")
    await handled(js, topology.SCHEDULER_JOBS)
    assert sum("ignoring" in r.getMessage() for r in caplog.records) == len(forged) + 1


async def test_a_later_delivery_that_takes_the_commit_over_ends_a_job_its_dead_runner_started(
    bus: tuple[Client, JetStreamContext], scheduler: None
) -> None:
    nc, js = bus
    await publish(js, probed("/m/a.mp4"))
    (work,) = await pull_work(js, 1)
    job = work.job_id
    await publish(js, JobStarted(job_id=job, attempt=1, delivery=1, node="a", path=work.path))
    await eventually(lambda: status_is(nc, "/m/a.mp4", "running"))
    # Node a died; JetStream gave the job to node b, which found the file gone before starting it. Its report
    # alone does not count (a runs the attempt, as far as the record says) ...
    await publish(js, failed("b", 2, job_id=job))
    await handled(js, topology.SCHEDULER_JOBS)
    assert (await jobs(nc))["/m/a.mp4"]["status"] == "running"
    # ... so it takes the commit over first (a later delivery may), and then it does.
    await granted(nc, job, 1, delivery=2, node="b")
    await publish(js, failed("b", 2, job_id=job))
    await eventually(lambda: status_is(nc, "/m/a.mp4", "failed"), message="the job ended")
