"""``python -m bench load`` (or ``python -m bench.load``, ``make load``): the cluster under load. 1,000 small
jobs through two encoder nodes, against the same encodes as a bare ffmpeg loop; then 10,000 waiting jobs
with the dashboard open. Checks that nothing is lost, stuck or committed twice, and reports throughput, the
scheduler's gap between jobs, the dashboard's reads during the flood against idle, and each process's memory
at the start and end of each phase. Saves ``bench/out/load.json`` and ``load.txt``."""

from __future__ import annotations

__all__ = ["main"]


async def main() -> None:
    from .report import run_and_report

    await run_and_report()
