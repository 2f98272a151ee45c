"""Whose report of a job's outcome counts (architecture §3.3): every encoder logs in as the same NATS user, so
the bus cannot tell one node's report from another's; the scheduler can, from its record.

- A completion (``job.completed``, ``job.cleanup_finished``, ``job.rename_finished``), or an output kept for
  review (``job.review_requested``), counts only from an attempt, delivery and node that was granted the commit:
  nothing else may have touched the file, and only one attempt's output waits.
- A skip or a failure counts only from the holder of the attempt's commit, once granted; before that, while
  the attempt runs, only from the delivery that reported starting it. An attempt nobody started yet (a node
  found the file gone before starting) may be reported by any node.
- A start is news, never an outcome: it records who runs the attempt.

Pure: :mod:`progress` reads the record, asks :func:`refusal` and ignores (and logs) what it refuses.
"""

from __future__ import annotations

from dataclasses import dataclass

from librarrarian_contracts import (
    CleanupFinished,
    JobCompleted,
    JobReport,
    JobStarted,
    RenameFinished,
    ReviewRequested,
)


@dataclass(frozen=True)
class Delivery:
    """One delivery of one attempt, on one node."""

    attempt: int
    delivery: int | None
    node: str | None

    def __str__(self) -> str:
        return f"attempt {self.attempt} delivery {self.delivery} on {self.node}"


@dataclass(frozen=True)
class Record:
    """What the scheduler knows of a job when a report comes."""

    status: str
    holder: Delivery | None  # the commit, when granted
    runner: Delivery | None  # the delivery that reported starting the current attempt
    granted: bool  # whether the report's own delivery was ever granted the commit


def of(report: JobReport) -> Delivery:
    return Delivery(report.attempt, report.delivery, report.node)


def refusal(report: JobReport, record: Record) -> str | None:
    """Why ``report`` must not count, or None when it does."""
    if isinstance(report, JobStarted):
        return None
    sender = of(report)
    if isinstance(report, JobCompleted | CleanupFinished | RenameFinished | ReviewRequested):
        if report.delivery is None:
            return "it names no delivery (a worker older than commit fencing?)"
        return None if record.granted else f"{sender} was never granted the commit"
    holder, runner = record.holder, record.runner
    if holder is not None and holder.attempt == report.attempt:
        return None if sender == holder else f"{holder} holds the commit"
    if record.status == "running" and runner is not None and runner.attempt == report.attempt:
        return None if sender == runner else f"{runner} runs it"
    return None
