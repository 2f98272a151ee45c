"""What each NATS user may publish and subscribe: allow-lists made from :mod:`catalog` (the channels a role
produces and consumes, the endpoints it serves and asks, the buckets it writes and reads, the durables it
pulls) and :mod:`topology` (the streams behind them), so a new subject or role is one catalog entry.

Only :data:`PROVISIONER` may create or change a stream or consumer; nobody may delete or purge one, except the
chunks of an object store's files, by the roles that write them. Each
role gets its replies in an inbox of its own (:func:`inbox_prefix`): one role cannot read another's answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from . import catalog, topology
from .catalog import Role
from .topology import BucketSpec, ConsumerSpec, StoreSpec, StreamSpec

API = "$JS.API"
# The NATS user that applies the topology (`librarrarian provision`); no service logs in as it.
PROVISIONER = "provision"


@dataclass(frozen=True)
class Permissions:
    """Allow-lists; an empty ``publish`` means nothing at all. ``responses``: may answer the requests it
    receives (the server then allows one reply to each request's own reply subject)."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    responses: bool = False


@dataclass(frozen=True)
class Needs:
    """What a role uses of the topology; it checks at start that these exist (:func:`provision.require`)."""

    streams: tuple[StreamSpec, ...]
    durables: tuple[ConsumerSpec, ...]
    buckets: tuple[BucketSpec, ...]
    stores: tuple[StoreSpec, ...] = ()


def inbox_prefix(user: str) -> str:
    """Where a user's replies and pushed messages arrive: it may subscribe to ``<prefix>.>`` only."""
    return f"_INBOX_{user}"


def kv_stream(bucket: BucketSpec) -> str:
    return f"KV_{bucket.name}"


def store_stream(store: StoreSpec) -> str:
    return f"OBJ_{store.name}"


def needs(role: Role) -> Needs:
    durables = [d.spec for d in catalog.DURABLES if role in d.consumers or role in d.movers]
    streams = {c.stream.name for c in catalog.CHANNELS if c.stream and role in c.producers}
    streams |= {d.stream for d in durables}
    streams |= {x.stream.name for x in catalog.LOOKUPS if role in x.readers or role in x.removers}
    buckets = {b.spec.name for b in catalog.BUCKETS if role in b.writers or role in b.readers}
    stores = {x.spec.name for x in catalog.STORES if role in x.writers or role in x.readers}
    return Needs(
        streams=tuple(s for s in topology.STREAMS if s.name in streams),
        durables=tuple(durables),
        buckets=tuple(b for b in topology.BUCKETS if b.name in buckets),
        stores=tuple(x for x in topology.STORES if x.name in stores),
    )


def for_role(role: Role) -> Permissions:
    if role is Role.INTEGRATION:
        return Permissions(publish=(), subscribe=catalog.public_filters())
    return Permissions(publish=_publish(role), subscribe=_subscribe(role), responses=_serves(role))


def users() -> dict[str, Permissions]:
    """Every NATS user of a cluster: one per role, and the provisioner."""
    return {**{role.value: for_role(role) for role in Role}, PROVISIONER: provisioner()}


def provisioner() -> Permissions:
    """Create and update every stream, bucket and durable, and read their state; delete or purge nothing."""
    streams = [s.name for s in topology.STREAMS] + [kv_stream(b) for b in topology.BUCKETS]
    streams += [store_stream(x) for x in topology.STORES]
    publish = [f"{API}.INFO"]
    for name in streams:
        publish += [f"{API}.STREAM.{verb}.{name}" for verb in ("CREATE", "UPDATE", "INFO")]
    for spec in topology.CONSUMERS:
        where = f"{spec.stream}.{spec.durable}"
        publish += [
            f"{API}.CONSUMER.DURABLE.CREATE.{where}",
            f"{API}.CONSUMER.CREATE.{where}",
            f"{API}.CONSUMER.CREATE.{where}.>",
            f"{API}.CONSUMER.INFO.{where}",
        ]
    return Permissions(publish=_once(publish), subscribe=(f"{inbox_prefix(PROVISIONER)}.>",))


def _serves(role: Role) -> bool:
    return any(e.server is role for e in catalog.ENDPOINTS)


def _publish(role: Role) -> tuple[str, ...]:
    found = [c.filter for c in catalog.CHANNELS if role in c.producers]
    found += [e.subject for e in catalog.ENDPOINTS if role in e.clients]
    wanted = needs(role)
    found += [f"{API}.STREAM.INFO.{s.name}" for s in wanted.streams]
    for spec in wanted.durables:
        where = f"{spec.stream}.{spec.durable}"
        found += [f"{API}.CONSUMER.INFO.{where}", f"{API}.CONSUMER.MSG.NEXT.{where}", f"$JS.ACK.{where}.>"]
    found += [f"{API}.STREAM.MSG.GET.{x.stream.name}" for x in catalog.LOOKUPS if role in x.readers]
    found += [f"{API}.STREAM.MSG.DELETE.{x.stream.name}" for x in catalog.LOOKUPS if role in x.removers]
    for bucket in catalog.BUCKETS:
        stream = kv_stream(bucket.spec)
        if role in bucket.writers or role in bucket.readers:
            found.append(f"{API}.STREAM.INFO.{stream}")
        if role in bucket.writers:
            found.append(f"$KV.{bucket.spec.name}.>")
        else:
            found += [f"$KV.{bucket.spec.name}.{key}" for key in bucket.seeded_by(role)]
        if role in bucket.readers:
            found += _reading(stream)
    found += _stores(role)
    return _once(found)


def _stores(role: Role) -> list[str]:
    """An object store is a stream: a file's chunks on ``$O.<store>.C.<id>``, its description on
    ``$O.<store>.M.<name>``. Reading one is an ordered consumer on its chunks, and the description's last
    message; writing one publishes both, and replacing or removing a file purges its chunks (this stream's
    only: no role may purge any other)."""
    found = []
    for store in catalog.STORES:
        stream = store_stream(store.spec)
        if role in store.writers or role in store.readers:
            found.append(f"{API}.STREAM.INFO.{stream}")
        if role in store.writers:
            found += [f"$O.{store.spec.name}.>", f"{API}.STREAM.PURGE.{stream}"]
        if role in store.readers:
            found += _reading(stream)
    return found


def _reading(stream: str) -> list[str]:
    """Reading a KV bucket's or an object store's stream: a subject's last message, and an ordered consumer
    of its own (a watch, or a file's chunks), with flow control, delivered to the reader's inbox."""
    return [
        f"{API}.DIRECT.GET.{stream}",
        f"{API}.DIRECT.GET.{stream}.>",
        f"{API}.STREAM.MSG.GET.{stream}",
        f"{API}.CONSUMER.CREATE.{stream}",
        f"{API}.CONSUMER.CREATE.{stream}.>",
        f"{API}.CONSUMER.INFO.{stream}.*",
        f"$JS.FC.{stream}.>",
    ]


def _subscribe(role: Role) -> tuple[str, ...]:
    found = [f"{inbox_prefix(role)}.>"]
    found += _consumed(role)
    served = [e.subject for e in catalog.ENDPOINTS if e.server is role]
    if served:
        found += [*served, "$SRV.>"]  # nats.micro answers discovery (PING, INFO, STATS) on $SRV
    found += [topology.max_deliveries_advisory(d.spec) for d in catalog.DURABLES if role in d.advised]
    return _once(found)


def _consumed(role: Role) -> list[str]:
    """The filters of the channels a role consumes; a stream's subjects when it consumes all of them (the
    gateway follows ``job.>`` with one subscription)."""
    found: list[str] = []
    for stream in topology.STREAMS:
        channels = [c for c in catalog.CHANNELS if c.stream == stream]
        mine = [c for c in channels if role in c.consumers]
        found += list(stream.subjects) if mine and mine == channels else [c.filter for c in mine]
    found += [c.filter for c in catalog.CHANNELS if c.stream is None and role in c.consumers]
    return found


def _once(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
