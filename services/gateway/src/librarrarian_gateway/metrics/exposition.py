"""One scrape: the figures the gateway can see, as Prometheus's text format.

Nodes, running jobs and scans come from the live feed's copy of their KV buckets (no NATS request); jobs per
state and kind and the outbox's lag from one ``scheduler.metrics`` request, which reads counts the scheduler
keeps up to date (never a count over the jobs); finished jobs and bytes saved from the :class:`Tally`.
A scheduler that does not answer leaves its figures out and sets ``librarrarian_scheduler_up`` to 0.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from librarrarian_contracts import JobKind, JobStatus, topology
from librarrarian_contracts.enums import NodeState
from librarrarian_contracts.views import Nothing, QueueMetrics
from librarrarian_runtime.errors import ServiceError
from librarrarian_runtime.queries import ask
from nats.aio.client import Client
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..live.feed import Feed
from .tally import OUTCOMES, Tally

SCANNING = {"walking", "probing"}
SCRAPE_TIMEOUT = 3.0


@dataclass(frozen=True)
class Seen:
    """Everything one scrape reports, gathered before it is written out."""

    version: str
    nodes: list[dict[str, Any]]
    progress: list[dict[str, Any]]
    scans: list[dict[str, Any]]
    queue: QueueMetrics | None
    tally: Tally


async def gather(nc: Client, feed: Feed, tally: Tally, version: str) -> Seen:
    try:
        queue: QueueMetrics | None = await ask(
            nc, topology.SCHEDULER_METRICS, Nothing(), QueueMetrics, timeout=SCRAPE_TIMEOUT
        )
    except ServiceError:
        queue = None
    return Seen(version, feed.nodes.values(), feed.progress.values(), feed.scans.values(), queue, tally)


class SeenCollector(Collector):
    def __init__(self, seen: Seen) -> None:
        self.seen = seen

    def collect(self) -> Iterable[Metric]:
        yield from _gateway(self.seen)
        yield from _queue(self.seen.queue)
        yield from _finished(self.seen.tally)
        yield from _nodes(self.seen)
        yield from _scans(self.seen.scans)


def render(seen: Seen) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SeenCollector(seen))
    return generate_latest(registry)


def _gateway(seen: Seen) -> Iterator[Metric]:
    info = GaugeMetricFamily("librarrarian_gateway_info", "The gateway's version.", labels=["version"])
    info.add_metric([seen.version], 1)
    yield info
    up = GaugeMetricFamily("librarrarian_scheduler_up", "Whether the scheduler answered this scrape.")
    up.add_metric([], 0 if seen.queue is None else 1)
    yield up


def _queue(queue: QueueMetrics | None) -> Iterator[Metric]:
    if queue is None:
        return
    jobs = GaugeMetricFamily(
        "librarrarian_queue_jobs",
        "Jobs in the scheduler's record, per state and kind.",
        labels=["status", "kind"],
    )
    counts = {(d.status.value, d.kind.value): d.jobs for d in queue.depth}
    for status in JobStatus:  # every pair, zeros included: a series that vanishes breaks alerts
        for kind in JobKind:
            jobs.add_metric([status.value, kind.value], counts.get((status.value, kind.value), 0))
    yield jobs
    due = GaugeMetricFamily(
        "librarrarian_outbox_due_messages", "Messages the scheduler's outbox has yet to publish."
    )
    due.add_metric([], queue.outbox_due)
    yield due
    lag = GaugeMetricFamily(
        "librarrarian_outbox_lag_seconds",
        "How long the oldest message due in the scheduler's outbox has waited.",
    )
    lag.add_metric([], queue.outbox_lag_seconds)
    yield lag


def _finished(tally: Tally) -> Iterator[Metric]:
    finished = CounterMetricFamily(
        "librarrarian_jobs_finished",
        "Jobs that finished since the gateway started: done, failed for good or skipped, per kind.",
        labels=["kind", "outcome"],
    )
    for kind in JobKind:
        for outcome in OUTCOMES.values():
            finished.add_metric([kind.value, outcome], tally.finished[(kind.value, outcome)])
    yield finished
    saved = CounterMetricFamily(
        "librarrarian_bytes_saved", "Bytes the transcodes that finished since the gateway started saved."
    )
    saved.add_metric([], tally.bytes_saved)
    yield saved


def _nodes(seen: Seen) -> Iterator[Metric]:
    per_state = Counter(str(n["state"]) for n in seen.nodes)
    nodes = GaugeMetricFamily("librarrarian_nodes", "Encoder nodes connected, per state.", labels=["state"])
    for state in NodeState:
        nodes.add_metric([state.value], per_state[state.value])
    yield nodes
    info = GaugeMetricFamily(
        "librarrarian_node_info",
        "Each connected node: its version (compare with the gateway's) and state.",
        labels=["node", "version", "state"],
    )
    slots = GaugeMetricFamily("librarrarian_node_slots", "Encodes a node may run at once.", labels=["node"])
    running = GaugeMetricFamily("librarrarian_node_running_jobs", "Jobs a node is running.", labels=["node"])
    for node in seen.nodes:
        info.add_metric([node["key"], str(node["version"]), str(node["state"])], 1)
        slots.add_metric([node["key"]], node["slots"])
        running.add_metric([node["key"]], len(node.get("jobs", ())))
    yield from (info, slots, running)
    fps: dict[str, float] = defaultdict(float)
    speed: dict[str, float] = defaultdict(float)
    for job in seen.progress:
        fps[job["node"]] += job.get("fps") or 0.0
        speed[job["node"]] += job.get("speed") or 0.0
    fps_metric = GaugeMetricFamily(
        "librarrarian_node_encode_fps",
        "Frames per second a node encodes, over its running jobs.",
        labels=["node"],
    )
    speed_metric = GaugeMetricFamily(
        "librarrarian_node_encode_speed",
        "Seconds of video a node encodes per second, over its running jobs (1 = real time).",
        labels=["node"],
    )
    for name in sorted(set(fps) | {n["key"] for n in seen.nodes}):
        fps_metric.add_metric([name], fps.get(name, 0.0))
        speed_metric.add_metric([name], speed.get(name, 0.0))
    yield from (fps_metric, speed_metric)


def _scans(scans: list[dict[str, Any]]) -> Iterator[Metric]:
    active = [s for s in scans if s["state"] in SCANNING]
    running = GaugeMetricFamily("librarrarian_scans_running", "Scans walking or probing the library now.")
    running.add_metric([], len(active))
    yield running
    rate = GaugeMetricFamily(
        "librarrarian_scan_rate_files_per_second", "Files probed per second by the running scans."
    )
    rate.add_metric([], sum(float(s.get("rate") or 0.0) for s in active))
    yield rate
