"""What the role permissions and commit fencing stop, counted on the real servers.

1. Every attempt of ``librarrarian_testing.forbidden`` (the named attacks, then every subject of the catalog a
   role has no business with) as each user, against ``deploy/nats.conf`` and against the configuration
   ``librarrarian up`` writes: how many were tried, how many got through (goal: 0).
2. Forged job reports against a real scheduler (an encoder's credentials, another node's name, no commit):
   how many changed the job's record (goal: 0); and the holder's own completion, which must count.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path

from librarrarian_contracts import (
    FileIdentity,
    JobCompleted,
    JobFailed,
    JobReport,
    JobSkipped,
    JobStarted,
    MediaProbe,
    MediaProbed,
    provision,
    publish,
    topology,
)
from librarrarian_contracts.codec import work_decoder
from librarrarian_contracts.permissions import PROVISIONER
from librarrarian_contracts.views import CommitDecision, CommitRequest, JobsPage, JobsQuery
from librarrarian_embedded import PostgresServer
from librarrarian_runtime import bus
from librarrarian_runtime.queries import ask
from librarrarian_scheduler import service as scheduler
from librarrarian_scheduler.settings import Settings as SchedulerSettings
from librarrarian_testing import eventually, forbidden, handled, role_servers
from nats.aio.client import Client

from librarrarian import local_servers, secrets_file

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"


# Two nodes without the library, each tried against the other's store (and the sweep).
REMOTE = ("laptop", "friend")


async def permissions(work: Path) -> dict[str, dict[str, object]]:
    attempts = forbidden.attempts(REMOTE)
    found: dict[str, dict[str, object]] = {}
    with role_servers.deploy_server(work / "deploy", remote_nodes=REMOTE) as server:
        found["deploy/nats.conf"] = _counted(await forbidden.try_all(server.urls, attempts))
    (work / "up").mkdir()
    creds = secrets_file.load_or_create(work / "up", REMOTE)
    embedded = await local_servers.start_nats(work / "up" / "nats", creds, REMOTE)
    try:
        found["librarrarian up"] = _counted(await forbidden.try_all(embedded.urls, attempts))
    finally:
        embedded.server.stop()
    return found


def _counted(outcomes: list[forbidden.Outcome]) -> dict[str, object]:
    through = [o.attempt for o in outcomes if not o.refused]
    return {
        "tried": len(outcomes),
        "named": sum(1 for o in outcomes if o.attempt.why),
        "got_through": len(through),
        "through": [f"{a.user} {a.action} {a.subject}" for a in through],
        "by_user": dict(Counter(o.attempt.user for o in outcomes)),
    }


def _forged(job_id: int, attempt: int) -> list[JobReport]:
    common = {"job_id": job_id, "attempt": attempt, "path": "/media/Film.avi"}
    done = {
        "output_path": "/media/Film.mkv",
        "encoder": "libx265",
        "codec_before": "mpeg4",
        "codec_after": "hevc",
        "size_before": 1000,
        "size_after": 1,
        "duration": 1.0,
        "elapsed_seconds": 1.0,
    }
    return [
        JobCompleted(**common, **done, node="evil", delivery=1),  # another node, never committed
        JobCompleted(**common, **done, node="evil", delivery=None),  # naming no delivery
        JobCompleted(**common, **done, node="box", delivery=1),  # the runner's name, before its commit
        JobCompleted(**common, **done, node="box", delivery=2),  # another delivery of that name
        JobFailed(**common, node="evil", delivery=1, reason="forged", retryable=False),
        JobSkipped(**common, node="evil", delivery=1, reason="forged"),
    ]


class Ignored(logging.Handler):
    """Counts the reports the scheduler says it ignored."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += "ignoring" in record.getMessage()


async def fencing(work: Path) -> dict[str, object]:
    ignored = Ignored()
    logging.getLogger("librarrarian_scheduler.progress").addHandler(ignored)
    (work / "fence").mkdir()
    creds = secrets_file.load_or_create(work / "fence")
    nats_server = await local_servers.start_nats(work / "fence" / "nats", creds)
    postgres = PostgresServer(work / "fence" / "pg")
    postgres.start()
    stopping = asyncio.Event()
    urls = nats_server.urls
    connections: list[Client] = []
    try:
        provisioner = await bus.connect(urls[PROVISIONER], "provision")
        connections.append(provisioner)
        await provision(provisioner.jetstream())
        settings = SchedulerSettings(nats_url=urls["scheduler"], database_url=postgres.uri())
        running = asyncio.create_task(scheduler.run(settings, stopping))
        scanner, encoder, gateway = [await bus.connect(urls[r], r) for r in ("scanner", "encoder", "gateway")]
        connections += [scanner, encoder, gateway]

        async def status() -> str | None:
            page = await ask(gateway, topology.SCHEDULER_JOBS_QUERY, JobsQuery(), JobsPage)
            return str(page.items[0].status) if page.items else None

        await eventually(lambda: _answers(gateway), timeout=30, message="the scheduler answering")
        probe = MediaProbe(container="avi", duration=1.0, video_codec="mpeg4")
        identity = FileIdentity(size=1000, mtime_ns=1, inode=1)
        await publish(
            scanner.jetstream(), MediaProbed(path="/media/Film.avi", identity=identity, probe=probe)
        )
        spec = topology.WORK_CONSUMERS[topology.HwClass.CPU]
        pulled = await encoder.jetstream().pull_subscribe_bind(durable=spec.durable, stream=spec.stream)
        (msg,) = await pulled.fetch(1, timeout=30)
        request = work_decoder.decode(msg.data)
        await msg.ack()
        await pulled.unsubscribe()
        js = encoder.jetstream()
        await publish(
            js, JobStarted(job_id=request.job_id, attempt=1, delivery=1, node="box", path=request.path)
        )
        await eventually(lambda: _is(status(), "running"), message="the job running on box")
        forged = _forged(request.job_id, request.attempt)
        for report in forged:
            await publish(js, report)
        await handled(provisioner.jetstream(), topology.SCHEDULER_JOBS)
        after_forgeries, ignored_forgeries = await status(), ignored.count
        commit = CommitRequest(job_id=request.job_id, attempt=1, delivery=1, node="box")
        granted = (await ask(encoder, topology.SCHEDULER_COMMIT, commit, CommitDecision)).granted
        await publish(js, _forged(request.job_id, 1)[2])  # the same completion, now from the holder
        await eventually(lambda: _is(status(), "done"), message="the holder's completion counted")
        stopping.set()
        await running
    finally:
        stopping.set()
        for nc in connections:
            await nc.close()
        nats_server.server.stop()
        postgres.stop()
    return {
        "forged": len(forged),
        "ignored": ignored_forgeries,
        "counted": len(forged) - ignored_forgeries,
        "status_after_forgeries": after_forgeries,
        "holder_granted_and_counted": granted,
    }


async def _answers(nc: Client) -> bool:
    try:
        await ask(nc, topology.SCHEDULER_JOBS_QUERY, JobsQuery(), JobsPage, timeout=0.5)
    except Exception:  # noqa: BLE001 - not answering yet, whatever the reason
        return False
    return True


async def _is(value: object, wanted: str) -> bool:
    return await value == wanted  # type: ignore[misc]


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-security-") as tmp:
        work = Path(tmp)
        print(
            "security: what each NATS user must not do (nodes without the library too), on deploy/nats.conf "
            "and on up's …",
            flush=True,
        )
        tried = await permissions(work)
        print("security: forged job reports against a real scheduler …", flush=True)
        fenced = await fencing(work)
    report = {"when": datetime.now().isoformat(timespec="seconds"), "permissions": tried, "fencing": fenced}
    (OUT / "security.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = ["\nsecurity: attempts refused by the NATS server (goal: nothing gets through)"]
    for config, counts in tried.items():
        lines.append(
            f"  {config:<18} tried {counts['tried']:>4} ({counts['named']} named attacks, the rest the catalog"
            f" sweep), got through {counts['got_through']}"
        )
        for line in counts["through"]:  # type: ignore[attr-defined]
            lines.append(f"    through: {line}")
    lines.append(
        f"  forged job reports: {fenced['forged']} sent, {fenced['counted']} counted by the scheduler"
        f" (job stayed {fenced['status_after_forgeries']}); the commit holder's completion counted:"
        f" {fenced['holder_granted_and_counted']}"
    )
    lines.append(f"  written to {OUT / 'security.json'}")
    print("\n".join(lines))
