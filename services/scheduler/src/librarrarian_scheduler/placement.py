"""Which hardware class a job goes to: the first class of the encoder-priority setting that has a live
node taking work, else the first that has a live node at all, else the CPU (every node can encode on it).
Only nodes that see the library count: one without takes segments only (``segment_work``)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import msgspec
from librarrarian_contracts import topology
from librarrarian_contracts.settings import PRIORITY_CLASSES, TranscodeSettings
from librarrarian_contracts.topology import HwClass
from librarrarian_contracts.views import NodeStatus
from librarrarian_runtime.kv_watch import BucketWatch
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

log = logging.getLogger(__name__)

TAKING_WORK = {"running"}
LIVE_SECONDS = topology.NODES.ttl_seconds or 20.0


def choose(priority: str, nodes: dict[str, NodeStatus], codec: str, now: datetime | None = None) -> HwClass:
    order = PRIORITY_CLASSES.get(priority, PRIORITY_CLASSES["auto"])
    now = now or datetime.now(UTC)
    # An entry past the bucket's TTL is a node that died: KV expiry sends no delete to watchers. A node that
    # sees no library takes segments of other nodes' jobs only, never a job.
    live = [n for n in nodes.values() if (now - n.updated_at).total_seconds() < LIVE_SECONDS and n.library]

    def can(node: NodeStatus, hw: HwClass) -> bool:
        return codec in node.codecs.get(hw, ())

    for taking_work in (True, False):
        for hw in order:
            if any(can(n, hw) for n in live if n.state in TAKING_WORK or not taking_work):
                return hw
    return HwClass.CPU


class Placement:
    """Keeps the live nodes (a watch of the ``nodes`` bucket) and answers :func:`choose` for new attempts."""

    def __init__(self, js: JetStreamContext) -> None:
        self.nodes: dict[str, NodeStatus] = {}
        self._watch = BucketWatch(js, topology.NODES.name, self._apply, on_synced=self._keep_only)

    async def start(self) -> None:
        await self._watch.start()

    async def stop(self) -> None:
        await self._watch.stop()

    def _keep_only(self, keys: set[str]) -> None:
        for gone in set(self.nodes) - keys:
            del self.nodes[gone]

    def _apply(self, entry: KeyValue.Entry) -> None:
        if entry.operation in ("DEL", "PURGE") or not entry.value:
            self.nodes.pop(entry.key, None)
            return
        try:
            self.nodes[entry.key] = msgspec.json.decode(entry.value, type=NodeStatus)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            log.warning("ignoring node entry %s: %s", entry.key, error)

    def live_classes(self) -> set[HwClass]:
        now = datetime.now(UTC)
        return {
            HwClass(hw)
            for node in self.nodes.values()
            if (now - node.updated_at).total_seconds() < LIVE_SECONDS and node.library
            for hw in node.codecs
        }

    def choose(self, settings: TranscodeSettings) -> HwClass:
        return choose(settings.encoder_priority, self.nodes, settings.target_codec)
