"""What each NATS user must not do, and trying it on a real server: the attacks the role permissions exist
for (named, with what they would allow), then every subject of the catalog a role has no business with. An
attempt is refused when the server answers it with a permissions violation; ``tests/test_deploy.py`` holds
every attempt to that, ``bench/security.py`` counts them for a report."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import nats
from librarrarian_contracts import catalog, topology
from librarrarian_contracts.catalog import Role
from librarrarian_contracts.permissions import PROVISIONER, inbox_prefix, kv_stream, store_stream
from librarrarian_runtime.bus import inbox_of
from nats.aio.client import Client

Action = Literal["publish", "subscribe"]
API = "$JS.API"
WORK_CPU = topology.WORK_CONSUMERS[topology.HwClass.CPU]


@dataclass(frozen=True)
class Attempt:
    user: str
    action: Action
    subject: str
    why: str = ""  # what it would let the user do; empty for the catalog sweep


@dataclass(frozen=True)
class Outcome:
    attempt: Attempt
    refused: bool


def _pub(user: str, why: str, *subjects: str) -> list[Attempt]:
    return [Attempt(user, "publish", s, why) for s in subjects]


def _sub(user: str, why: str, *subjects: str) -> list[Attempt]:
    return [Attempt(user, "subscribe", s, why) for s in subjects]


DESTROY = (
    f"{API}.STREAM.DELETE.JOBS",
    f"{API}.STREAM.PURGE.WORK",
    f"{API}.STREAM.MSG.DELETE.JOBS",
    f"{API}.CONSUMER.DELETE.WORK.{WORK_CPU.durable}",
    f"{API}.STREAM.UPDATE.WORK",
    f"{API}.STREAM.CREATE.SPY",
    f"{API}.CONSUMER.DURABLE.CREATE.JOBS.spy",
    f"{API}.CONSUMER.CREATE.JOBS",
)


def named() -> list[Attempt]:
    """The attacks the issue names, and their like for every role."""
    enc, gw, hist, scan = Role.ENCODER.value, Role.GATEWAY.value, Role.HISTORY.value, Role.SCANNER.value
    sched, clean, integ = Role.SCHEDULER.value, Role.CLEANUP.value, Role.INTEGRATION.value
    found = [
        *_pub(enc, "release every stale file awaiting approval for deletion", topology.SCHEDULER_RELEASE),
        *_pub(enc, "act on the queue", topology.SCHEDULER_CLEAR, topology.SCHEDULER_DELETE),
        *_pub(
            enc,
            "read or re-point the Jellyfin and Plex set-up (and so receive its key)",
            topology.SOURCES_STATUS,
            topology.SOURCES_JELLYFIN_SET,
            topology.SOURCES_PLEX_SELECT,
        ),
        *_sub(enc, "intercept the set-up requests, keys and all", "scanner.sources.>"),
        *_sub(enc, "answer other nodes' commit requests in the scheduler's place", topology.SCHEDULER_COMMIT),
        *_pub(enc, "change the settings", "$KV.settings.transcode", "$KV.settings.paths"),
        *_pub(enc, "invent media or work", topology.MEDIA_PROBED, topology.transcode_subject("cpu")),
        *_pub(enc, "report a deletion", topology.JOB_CLEANUP_FINISHED),
        *_pub(enc, "rewrite or delete the streams and consumers", *DESTROY),
        *_sub(
            enc,
            "read another role's replies",
            f"{inbox_prefix(gw)}.>",
            f"{inbox_prefix(sched)}.>",
            "_INBOX.>",
        ),
        *_sub(enc, "follow every job and the record", "job.>", "queue.>"),
        *_pub(gw, "report jobs in the workers' place", topology.JOB_COMPLETED, topology.JOB_FAILED),
        *_pub(gw, "make work", topology.transcode_subject("cpu"), topology.WORK_CLEANUP),
        *_pub(gw, "write a node's status", "$KV.nodes.fake", "$KV.progress.1"),
        *_pub(gw, "take the commit", topology.SCHEDULER_COMMIT),
        *_pub(gw, "take work from the encoders", f"{API}.CONSUMER.MSG.NEXT.WORK.{WORK_CPU.durable}"),
        *_pub(gw, "rewrite or delete the streams and consumers", *DESTROY),
        *_sub(gw, "answer in the scheduler's place", "scheduler.>"),
        *_pub(hist, "report or make anything", topology.JOB_COMPLETED, topology.JOB_STATE_CHANGED),
        *_pub(hist, "ask what it has no need of", topology.SCHEDULER_JOBS_QUERY, topology.SOURCES_STATUS),
        *_pub(hist, "change the settings", "$KV.settings.transcode"),
        *_pub(
            hist, "read another durable", f"{API}.CONSUMER.MSG.NEXT.JOBS.{topology.SCHEDULER_JOBS.durable}"
        ),
        *_sub(hist, "listen to anything but jobs", "media.>", "work.>", "queue.>", "scanner.sources.>"),
        *_pub(scan, "report jobs or make work", topology.JOB_COMPLETED, topology.transcode_subject("cpu")),
        *_pub(scan, "act on the queue", topology.SCHEDULER_RELEASE, topology.SCHEDULER_COMMIT),
        *_pub(scan, "change the settings", "$KV.settings.transcode"),
        *_sub(scan, "read the gateway's replies", f"{inbox_prefix(gw)}.>"),
        *_pub(sched, "report jobs or media", topology.JOB_COMPLETED, topology.MEDIA_PROBED),
        *_pub(sched, "read the Jellyfin and Plex set-up", topology.SOURCES_STATUS),
        *_pub(sched, "change the settings", "$KV.settings.transcode", "$KV.nodes.fake"),
        *_pub(sched, "purge or delete the work it moves", *DESTROY),
        *_sub(sched, "read the encoders' replies", f"{inbox_prefix(enc)}.>"),
        *_pub(clean, "make work or media", topology.transcode_subject("cpu"), topology.WORK_CLEANUP),
        *_pub(clean, "release deletions itself", topology.SCHEDULER_RELEASE),
        *_pub(clean, "report a transcode", topology.JOB_COMPLETED),
        *_sub(clean, "answer in the scheduler's place", topology.SCHEDULER_COMMIT),
        *_pub(integ, "say anything", topology.JOB_COMPLETED, topology.SCHEDULER_JOBS_QUERY, "$KV.settings.x"),
        *_pub(integ, "look at the streams", f"{API}.STREAM.INFO.WORK"),
        *_sub(integ, "listen to what is not public", "work.>", "$KV.settings.>", "_INBOX.>", "scheduler.>"),
        *_pub(PROVISIONER, "delete or purge what it provisions", *DESTROY[:4]),
        *_pub(PROVISIONER, "say anything on the bus", topology.JOB_COMPLETED, topology.SCHEDULER_RELEASE),
        *_sub(PROVISIONER, "listen to anything", "job.>", "scanner.sources.>", f"{inbox_prefix(gw)}.>"),
    ]
    return found


def remote_named(node: str, other: str) -> list[Attempt]:
    """What a node without the library (``node``) must not do: reach another's transfer store (``other``'s)
    or the library's nodes' shared one, take or report whole jobs, or pass for another node."""
    user = topology.remote_user(node)
    theirs = [store_stream(topology.TRANSFERS), store_stream(topology.remote_store(other))]
    found = [
        *_pub(
            user,
            "read or write another node's transfers",
            *(f"{API}.{verb}.{stream}" for stream in theirs for verb in ("STREAM.INFO", "CONSUMER.CREATE")),
            *(f"{API}.DIRECT.GET.{stream}" for stream in theirs),
            *(f"{API}.STREAM.PURGE.{stream}" for stream in theirs),
            f"$O.{topology.TRANSFERS.name}.C.probe",
            f"$O.{topology.remote_store(other).name}.M.probe",
        ),
        *_pub(
            user, "destroy its own store", f"{API}.STREAM.DELETE.{store_stream(topology.remote_store(node))}"
        ),
        *_pub(user, "take whole jobs", f"{API}.CONSUMER.MSG.NEXT.WORK.{WORK_CPU.durable}"),
        *_pub(user, "report jobs or make work", topology.JOB_COMPLETED, topology.JOB_FAILED),
        *_pub(user, "make segments", topology.segment_subject("cpu"), topology.transcode_subject("cpu")),
        *_pub(user, "ask for the commit", topology.SCHEDULER_COMMIT),
        *_pub(
            user,
            "pass for another node",
            f"$KV.{topology.NODES.name}.{other}",
            f"$KV.{topology.SETTINGS.name}.slots.{other}",
            f"$KV.{topology.PROGRESS.name}.1",
        ),
        *_pub(user, "change the settings", "$KV.settings.transcode", f"$KV.settings.node.{node}"),
        *_pub(user, "read what the encoders learnt", f"{API}.CONSUMER.CREATE.{kv_stream(topology.QUALITY)}"),
        *_sub(
            user,
            "read other nodes' replies, or listen in",
            f"{inbox_prefix(Role.ENCODER.value)}.>",
            f"{inbox_prefix(topology.remote_user(other))}.>",
            "_INBOX.>",
            "job.>",
            "work.>",
        ),
    ]
    return found


def remote_swept(node: str) -> list[Attempt]:
    """The whole catalog for a node without the library: it says and hears none of its channels and
    endpoints, writes no bucket but its own entries (``$KV.<bucket>.probe`` is no one's), reads only the
    settings and the playback state, pulls only segments, and reshapes nothing."""
    user = topology.remote_user(node)
    found: list[Attempt] = []
    for c in catalog.CHANNELS:
        found += [Attempt(user, "publish", _concrete(c.address)), Attempt(user, "subscribe", c.filter)]
    for e in catalog.ENDPOINTS:
        found += [Attempt(user, "publish", e.subject), Attempt(user, "subscribe", e.subject)]
    for b in catalog.BUCKETS:
        found.append(Attempt(user, "publish", f"$KV.{b.spec.name}.probe"))
        if b.spec not in (topology.SETTINGS, topology.PLAYBACK):
            found.append(Attempt(user, "publish", f"{API}.CONSUMER.CREATE.{kv_stream(b.spec)}"))
    for d in catalog.DURABLES:
        where = f"{d.spec.stream}.{d.spec.durable}"
        if d.spec not in topology.SEGMENT_CONSUMERS.values():
            found.append(Attempt(user, "publish", f"{API}.CONSUMER.MSG.NEXT.{where}"))
        found += [
            Attempt(user, "publish", f"{API}.CONSUMER.DELETE.{where}"),
            Attempt(user, "publish", f"{API}.CONSUMER.DURABLE.CREATE.{where}"),
        ]
    for s in topology.STREAMS:
        verbs = ("DELETE", "PURGE", "CREATE", "UPDATE", "MSG.DELETE")
        found += [Attempt(user, "publish", f"{API}.STREAM.{verb}.{s.name}") for verb in verbs]
    others = [r.value for r in Role] + [PROVISIONER]
    found += [Attempt(user, "subscribe", f"{inbox_prefix(other)}.>") for other in others]
    return found


def _concrete(address: str) -> str:
    """A subject of a channel's address (its parameters filled in)."""
    return ".".join("x" if part.startswith("{") else part for part in address.split("."))


def swept(role: Role) -> list[Attempt]:
    """Every subject of the catalog the role neither says nor hears, every durable it does not pull, every
    other inbox, and destroying or reshaping any stream or consumer."""
    user = role.value
    found: list[Attempt] = []
    for c in catalog.CHANNELS:
        if role not in c.producers:
            found.append(Attempt(user, "publish", _concrete(c.address)))
        if role not in c.consumers:
            found.append(Attempt(user, "subscribe", c.filter))
    for e in catalog.ENDPOINTS:
        if role not in e.clients:
            found.append(Attempt(user, "publish", e.subject))
        if e.server is not role:
            found.append(Attempt(user, "subscribe", e.subject))
    for b in catalog.BUCKETS:
        if role not in b.writers:
            found.append(Attempt(user, "publish", f"$KV.{b.spec.name}.probe"))
        if role not in b.readers:
            found.append(Attempt(user, "publish", f"{API}.CONSUMER.CREATE.{kv_stream(b.spec)}"))
    for x in catalog.STORES:
        stream = store_stream(x.spec)
        found.append(Attempt(user, "publish", f"{API}.STREAM.DELETE.{stream}"))
        if role not in x.writers:
            found += [
                Attempt(user, "publish", f"$O.{x.spec.name}.C.probe"),
                Attempt(user, "publish", f"{API}.STREAM.PURGE.{stream}"),
            ]
        if role not in x.readers:
            found.append(Attempt(user, "publish", f"{API}.CONSUMER.CREATE.{stream}"))
    for d in catalog.DURABLES:
        where = f"{d.spec.stream}.{d.spec.durable}"
        if role not in d.consumers and role not in d.movers:
            found.append(Attempt(user, "publish", f"{API}.CONSUMER.MSG.NEXT.{where}"))
        found += [
            Attempt(user, "publish", f"{API}.CONSUMER.DELETE.{where}"),
            Attempt(user, "publish", f"{API}.CONSUMER.DURABLE.CREATE.{where}"),
        ]
    for s in topology.STREAMS:
        found += [Attempt(user, "publish", f"{API}.STREAM.{verb}.{s.name}") for verb in ("DELETE", "PURGE")]
        if not any(x.stream == s and role in x.removers for x in catalog.LOOKUPS):
            found.append(Attempt(user, "publish", f"{API}.STREAM.MSG.DELETE.{s.name}"))
        found += [Attempt(user, "publish", f"{API}.STREAM.{verb}.{s.name}") for verb in ("CREATE", "UPDATE")]
    others = [r.value for r in Role if r is not role] + [PROVISIONER]
    found += [Attempt(user, "subscribe", f"{inbox_prefix(other)}.>") for other in others]
    return found


def attempts(remote_nodes: tuple[str, ...] = ()) -> list[Attempt]:
    """Every attempt once: the named ones first, then the sweep of each role; with ``remote_nodes`` (two or
    more), each such node's against the next one's store, and its sweep."""
    tried = [*named(), *(a for role in Role for a in swept(role))]
    for node, other in zip(remote_nodes, [*remote_nodes[1:], *remote_nodes[:1]], strict=True):
        tried += [*remote_named(node, other), *remote_swept(node)]
    seen: dict[tuple[str, Action, str], Attempt] = {}
    for attempt in tried:
        seen.setdefault((attempt.user, attempt.action, attempt.subject), attempt)
    return list(seen.values())


class Trier:
    """One connection of one user, trying attempts one at a time; a refusal is the server's permissions
    violation for that very subject, which arrives before the flush that follows the attempt returns."""

    def __init__(self, url: str, deadline: float) -> None:
        self.url, self.deadline = url, deadline
        self.violations: set[str] = set()
        self.arrived = asyncio.Event()
        self.nc: Client | None = None

    async def __aenter__(self) -> Trier:
        async def on_error(error: Exception) -> None:
            self.violations.add(str(error).lower())
            self.arrived.set()

        self.nc = await nats.connect(
            self.url, error_cb=on_error, inbox_prefix=inbox_of(self.url), allow_reconnect=False
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.nc is not None
        await self.nc.close()

    async def refused(self, attempt: Attempt) -> bool:
        assert self.nc is not None
        kind = "publish" if attempt.action == "publish" else "subscription"
        expected = f'permissions violation for {kind} to "{attempt.subject}"'.lower()
        subscription = None
        if attempt.action == "publish":
            await self.nc.publish(attempt.subject, b"{}")
        else:
            subscription = await self.nc.subscribe(attempt.subject)
        await self.nc.flush()
        loop = asyncio.get_running_loop()
        until = loop.time() + self.deadline
        try:
            while not any(expected in violation for violation in self.violations):
                self.arrived.clear()
                left = until - loop.time()
                if left <= 0:
                    return False
                try:
                    await asyncio.wait_for(self.arrived.wait(), left)
                except TimeoutError:
                    return False
            return True
        finally:
            if subscription is not None and not self.nc.is_closed:
                await subscription.unsubscribe()


async def try_all(urls: Mapping[str, str], tried: Iterable[Attempt], deadline: float = 2.0) -> list[Outcome]:
    """Each attempt as its user (``urls``: user -> URL with credentials)."""
    by_user: dict[str, list[Attempt]] = {}
    for attempt in tried:
        by_user.setdefault(attempt.user, []).append(attempt)
    outcomes: list[Outcome] = []
    for user, mine in by_user.items():
        async with Trier(urls[user], deadline) as trier:
            outcomes += [Outcome(a, await trier.refused(a)) for a in mine]
    return outcomes
