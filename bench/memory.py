"""What each service holds in memory at rest: ``librarrarian up`` on an empty library, every service started
and the gateway answering, then left to settle (``local_cluster.Up.settled``); each process's resident memory (VmRSS, and PSS, which counts
pages shared between processes by share) against a bare ``python -c 'import asyncio'`` process measured in
the same run (the floor of any asyncio service), as a ratio.

The embedded NATS and PostgreSQL are reported too; PostgreSQL is several processes (its server and its
workers): their sum of PSS is its real cost, their sum of RSS counts its shared buffers several times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from . import local_cluster, processes

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
ROLES = (*local_cluster.SERVICES, "nats-server", "postgres")


def baseline() -> processes.Memory:
    """A bare Python process that imported asyncio, as it sits waiting."""
    with subprocess.Popen(
        [sys.executable, "-c", "import asyncio, sys; print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    ) as bare:
        assert bare.stdout is not None and bare.stdin is not None
        bare.stdout.readline()
        used = processes.memory(bare.pid)
        bare.stdin.close()
    assert used is not None
    return used


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    bare = baseline()
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        work = Path(tmp)
        (work / "media").mkdir()
        print("memory: librarrarian up on an empty library …", flush=True)
        async with local_cluster.up(work / "media", work / "data", work / "up.log", {}) as cluster:
            started = await cluster.healthy()
            waited = await cluster.settled()
            servers = processes.started_with(str(work / "data"))
            found = processes.memory_by_role(cluster.process.pid, *servers)
    services: dict[str, dict[str, float]] = {}
    for name in ROLES:
        used = found.get(name, [])
        rss, pss = sum(m.rss_kib for m in used), sum(m.pss_kib for m in used)
        services[name] = {
            "processes": len(used),
            "rss_mib": round(rss / 1024, 1),
            "pss_mib": round(pss / 1024, 1),
            "rss_ratio_to_bare_python": round(rss / bare.rss_kib, 2),
        }
    report = {
        "when": datetime.now().isoformat(timespec="seconds"),
        "command": "python -m bench memory",
        "cpus": os.cpu_count(),
        "baseline": "python -c 'import asyncio' (waiting on stdin)",
        "baseline_rss_mib": round(bare.rss_kib / 1024, 1),
        "baseline_pss_mib": round(bare.pss_kib / 1024, 1),
        "healthy_after_seconds": round(started, 1),
        "settled_for_seconds": round(waited, 1),
        "services": services,
        "services_total_pss_mib": round(sum(float(s["pss_mib"]) for s in services.values()), 1),
    }
    (OUT / "memory.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nmemory at rest (baseline: bare python + asyncio, RSS {report['baseline_rss_mib']} MiB)")
    for name, figures in services.items():
        print(
            f"  {name:<12} {figures['processes']:>2.0f} process(es)  RSS {figures['rss_mib']:7.1f} MiB "
            f"({figures['rss_ratio_to_bare_python']:5.2f}x)  PSS {figures['pss_mib']:7.1f} MiB"
        )
    print(f"  total PSS {report['services_total_pss_mib']} MiB; written to {OUT / 'memory.json'}")
