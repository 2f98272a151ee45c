"""Reading the nodes and the scans, as the dashboard does several times a second, leaves nothing behind on
the server: each listing through the client's ``keys()`` left a consumer for five minutes, and a dashboard left
open under load (``make load``) piled up thousands until the server refused more and every page answered 500.
What the reads list stays right: the current entries, not a deleted or emptied one."""

from __future__ import annotations

import msgspec
from librarrarian_contracts import topology
from librarrarian_contracts.enums import ScanTrigger
from librarrarian_contracts.scans import ScanStatus
from nats.js import JetStreamContext

from .seeds import node
from .sites import Site

READS = 25


async def consumers(js: JetStreamContext, bucket: topology.BucketSpec) -> int:
    return (await js.stream_info(f"KV_{bucket.name}")).state.consumer_count


async def test_reading_the_nodes_and_scans_again_and_again_leaves_no_consumer(gateway: Site) -> None:
    nodes = await gateway.js.key_value(topology.NODES.name)
    scans = await gateway.js.key_value(topology.SCANS.name)
    await nodes.put("node-a", node())
    await nodes.put("node-b", node())
    await nodes.delete("node-b")  # a node that stopped: its key holds a delete marker
    await nodes.put("node-c", b"")
    scan = ScanStatus(scan_id="s1", trigger=ScanTrigger.REQUEST, roots=("/m",), state="probing")
    await scans.put("s1", msgspec.json.encode(scan))
    before = {b.name: await consumers(gateway.js, b) for b in (topology.NODES, topology.SCANS)}
    async with gateway.client() as api:
        for _ in range(READS):
            listed = await api.get("/api/v1/nodes")
            assert listed.status_code == 200
            assert [n["node"] for n in listed.json()] == ["node-a"]
            found = await api.get("/api/v1/scans")
            assert found.status_code == 200 and [s["id"] for s in found.json()] == ["s1"]
    after = {b.name: await consumers(gateway.js, b) for b in (topology.NODES, topology.SCANS)}
    assert after == before
