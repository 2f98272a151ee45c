"""The load harness (``make load``) on a tiny scale, so it cannot rot: ten small jobs through two real nodes
and a hundred waiting jobs with the dashboard open, on the real cluster; and its pure parts, each failing on
the case it exists for (a gap, a rate that falls, a memory that grows, a lost event)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bench.load import figures, memory, report, runner
from bench.load.memory import Memory

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(ms: float) -> datetime:
    return T0 + timedelta(milliseconds=ms)


@pytest.mark.e2e
async def test_a_tiny_load_run_passes_and_reports_every_figure() -> None:
    document = await runner.run_all(jobs=10, waiting_jobs=100, nodes=2, keep=False, idle_seconds=1.0)
    assert report.failures(document) == []
    encodes, waiting = document["encodes"], document["waiting"]
    assert isinstance(encodes, dict) and isinstance(waiting, dict)
    assert encodes["statuses"] == {"done": 10}
    assert encodes["gap_ms"]["n"] > 0 and encodes["baseline_bare_ffmpeg_seconds"] > 0
    assert (waiting["recorded"], waiting["queued_of_record"], waiting["lost"]) == (100, 100, 0)
    assert waiting["dashboard_reads_ms_idle"]["n"] > 0 and waiting["dashboard_reads_ms_flood"]["n"] > 0
    assert waiting["live_connects"] >= 1 and waiting["live_queued_events"] > 0
    services = {"up", "scanner", "scheduler", "history", "gateway", "cleanup", "arr", "nats-server"}
    for phase in (encodes, waiting):
        names = {row["process"] for row in phase["memory"]}
        assert services <= names and len([n for n in names if n.startswith("chaos-node")]) == 2
    assert "jobs/s" in report.text(document)


def test_the_gap_is_from_a_nodes_end_to_its_next_start() -> None:
    seen = [
        ("a", "start", at(0)), ("a", "end", at(500)), ("a", "start", at(620)), ("a", "end", at(900)),
        ("b", "start", at(10)), ("b", "end", at(400)), ("b", "start", at(1400)),
    ]  # fmt: skip
    assert sorted(figures.gaps_ms(seen)) == pytest.approx([120.0, 1000.0])
    assert figures.gaps_ms([("a", "start", at(0))]) == []


def test_percentiles_and_a_rate_that_falls_as_the_table_grows() -> None:
    assert figures.percentile([], 0.5) is None
    assert figures.percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert figures.percentile(list(map(float, range(1, 101))), 0.95) == 95.0
    steady = [(float(t), 10 * t) for t in range(11)]
    assert figures.rates(steady, 100) == (10.0, 10.0)
    slowing = [(0.0, 0), (2.0, 20), (10.0, 80), (20.0, 100)]
    first, last = figures.rates(slowing, 100)
    assert first is not None and last is not None and last < first


def test_memory_is_read_from_proc_status_and_growth_is_flagged() -> None:
    status = "Name:\tpython\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t4\n"
    assert memory.parse_status(status) == Memory(rss_kib=102400, hwm_kib=204800)
    assert memory.parse_status("Name:\tzombie\nState:\tZ\n") is None
    here = memory.sample({"self": __import__("os").getpid(), "gone": None})
    assert set(here) == {"self"} and here["self"].rss_kib > 0
    start = {"flat": Memory(100_000, 100_000), "leaky": Memory(100_000, 100_000)}
    end = {"flat": Memory(110_000, 120_000), "leaky": Memory(200_000, 200_000)}
    rows = {r["process"]: r for r in memory.compare(start, end)}
    assert rows["flat"]["grew"] is False and rows["leaky"]["grew"] is True
    assert rows["leaky"]["end/start"] == 2.0


def test_a_lost_event_a_violation_or_an_unclean_stop_fails_the_run() -> None:
    encodes = {"violations": []}
    waiting = {"lost": 0, "published": 100, "intake_seconds": 3.0}
    stop = {"exit": 0, "violations": []}
    assert report.failures({"encodes": encodes, "waiting": waiting, "stop": stop}) == []
    assert report.failures({"encodes": encodes, "waiting": {**waiting, "lost": 2}, "stop": stop})
    assert report.failures({"encodes": encodes, "waiting": {**waiting, "intake_seconds": None}, "stop": stop})
    assert report.failures({"encodes": {"violations": ["lost: x"]}, "waiting": waiting, "stop": stop})
    assert report.failures({"encodes": encodes, "waiting": waiting, "stop": {**stop, "exit": 1}})
    assert report.failures({"encodes": encodes}) == ["the run did not finish"]
