"""The second node of ``bench.segments``, an encoder process of its own pinned to one core, and what the
nodes' log lines say of the segments and the transfers."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import nats
from librarrarian_contracts import topology
from librarrarian_contracts.permissions import inbox_prefix
from librarrarian_encoder import scratch, transfers

CORE_B = 1


def nats_url(data: Path, user: str) -> str:
    """The cluster's NATS (``librarrarian up`` in ``data``) as ``user``."""
    port = re.search(r"listen: 127.0.0.1:(\d+)", (data / "nats" / "nats.conf").read_text())
    assert port
    password = json.loads((data / "credentials.json").read_text())[f"nats_{user}_password"]
    return f"nats://{user}:{password}@127.0.0.1:{port.group(1)}"


class NodeB:
    """The second encoder, a process of its own on ``CORE_B``, on the cluster's NATS: as the encoder user
    when it sees the library, else as its own user (``remote-node-b``)."""

    def __init__(self, data: Path, media: Path | None, folder: Path) -> None:
        self.url = nats_url(data, "encoder" if media is not None else topology.remote_user("node-b"))
        self.tmp = folder / "node-b-tmp"
        self.tmp.mkdir(exist_ok=True)
        self.log = folder / "node-b.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in {"MEDIA_PATHS", "NATS_URL"}},
            "NATS_URL": self.url,
            "NODE_NAME": "node-b",
            "HW_CLASSES": "cpu",
            "SLOTS": "1",
            "LOG_LEVEL": "INFO",
            "TMPDIR": str(self.tmp),
        }
        if media is not None:
            self.env["MEDIA_PATHS"] = str(media)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                ["taskset", "-c", str(CORE_B), sys.executable, "-m", "librarrarian_encoder"],
                env=self.env,
                stdout=out,
                stderr=out,
                stdin=subprocess.DEVNULL,
            )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=120)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def ffmpeg_seconds(self) -> float:
        """How long the oldest ffmpeg child of node-b has run (0: none)."""
        assert self.process is not None
        ticks = os.sysconf("SC_CLK_TCK")
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        longest = 0.0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                name = Path((entry / "cmdline").read_bytes().split(b"\0")[0].decode()).name
            except (OSError, IndexError):
                continue
            if int(fields[1]) == self.process.pid and "ffmpeg" in name:
                longest = max(longest, uptime - int(fields[19]) / ticks)
        return longest

    def leftovers(self) -> list[str]:
        return sorted(p.name for p in self.tmp.iterdir() if p.name.startswith(scratch.KINDS))


async def stored_objects(data: Path) -> list[str]:
    """The objects in the cluster's transfer stores (the shared one, and node-b's), read as the encoder
    user."""
    url = nats_url(data, "encoder")
    nc = await nats.connect(url, inbox_prefix=inbox_prefix("encoder"), max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        found = await transfers.names(js)
        return found + await transfers.names(js, store=topology.remote_store("node-b").name)
    finally:
        await nc.close()


ENCODING = re.compile(r"job \d+ segment (\d+)/\d+: encoding from")
SEGMENT_DONE = re.compile(
    r"job \d+ segment (\d+)/(\d+): done \((\d+) bytes, put in the transfer store in ([\d.]+) s\)"
)
SOURCE_PUT = re.compile(r"source put in \S+ for a node without the library \((\d+) bytes in ([\d.]+) s\)")
SOURCE_FETCHED = re.compile(r"source fetched from this node's transfer store \((\d+) bytes in ([\d.]+) s\)")
JOINED = re.compile(r"segments fetched from the transfer stores \((\d+) bytes in ([\d.]+) s\)")


def transfer_figures(logs_a: str, logs_b: str) -> dict[str, Any]:
    """Who encoded which segment, and what went through the transfer store, from the nodes' log lines."""
    by_node: dict[str, list[int]] = {"node-a": [], "node-b": []}
    moved: dict[str, float] = {"bytes": 0, "seconds": 0.0}

    def add(match: re.Match[str], size: int = 1, took: int = 2) -> None:
        moved["bytes"] += int(match.group(size))
        moved["seconds"] += float(match.group(took))

    for node, text in (("node-a", logs_a), ("node-b", logs_b)):
        for m in SEGMENT_DONE.finditer(text):
            by_node[node].append(int(m.group(1)))
            add(m, 3, 4)
        for pattern in (SOURCE_PUT, SOURCE_FETCHED, JOINED):
            for m in pattern.finditer(text):
                add(m)
    return {
        "segments_by_node": {k: sorted(v) for k, v in by_node.items()},
        "moved_bytes": int(moved["bytes"]),
        "moved_seconds": round(moved["seconds"], 2),
    }
