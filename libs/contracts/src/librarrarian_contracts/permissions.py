"""What each NATS user may publish and subscribe: allow-lists made from :mod:`catalog` (the channels a role
produces and consumes, the endpoints it serves and asks, the buckets it writes and reads, the durables it
pulls) and :mod:`topology` (the streams behind them), so a new subject or role is one catalog entry.

Only :data:`PROVISIONER` may create or change a stream or consumer; nobody may delete or purge one, except the
chunks of an object store's files, by the roles that write them. Each
role gets its replies in an inbox of its own (:func:`inbox_prefix`): one role cannot read another's answers.

A node without the library (``remote_nodes``: the cluster names them) logs in as a user of its own
(:func:`remote`): it takes segments and reaches its own transfer store, nothing of another node's; the
encoder role reaches every such store, to hand each node what it needs and take its segments back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from . import catalog, topology
from .catalog import Role
from .settings import slots_key
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


def for_role(role: Role, remote_nodes: Sequence[str] = ()) -> Permissions:
    if role is Role.INTEGRATION:
        return Permissions(publish=(), subscribe=catalog.public_filters())
    publish = list(_publish(role))
    if role is Role.ENCODER:
        for node in remote_nodes:
            publish += _store(topology.remote_store(node))
    return Permissions(publish=_once(publish), subscribe=_subscribe(role), responses=_serves(role))


def users(remote_nodes: Sequence[str] = ()) -> dict[str, Permissions]:
    """Every NATS user of a cluster: one per role, one per node without the library, and the provisioner."""
    found = {role.value: for_role(role, remote_nodes) for role in Role}
    found |= {topology.remote_user(node): remote(node) for node in remote_nodes}
    return {**found, PROVISIONER: provisioner(remote_nodes)}


def remote_needs(node: str) -> Needs:
    """What a node without the library uses: the work stream's segment durables, the buckets it reads or
    writes its own entry in, and its own transfer store."""
    return Needs(
        streams=(topology.WORK,),
        durables=tuple(topology.SEGMENT_CONSUMERS.values()),
        buckets=REMOTE_BUCKETS,
        stores=(topology.remote_store(node),),
    )


# A node without the library follows the settings and the playback state, writes its own entry in
# ``nodes``, and binds ``progress`` (its state only: segments report no progress of their own).
REMOTE_BUCKETS = (topology.NODES, topology.SETTINGS, topology.PLAYBACK, topology.PROGRESS)
REMOTE_READS = (topology.SETTINGS, topology.PLAYBACK)


def remote(node: str) -> Permissions:
    """A node without the library, logged in as ``remote-<node>``: it takes segments of any class and
    acknowledges them, follows the settings and the playback state, writes its own entry in ``nodes`` (and
    seeds its own slots), and reaches its own transfer store. Nothing else: no whole job, no report, no other
    node's entry, no other store."""
    user = topology.remote_user(node)
    wanted = remote_needs(node)
    found = [f"{API}.STREAM.INFO.{s.name}" for s in wanted.streams]
    for spec in wanted.durables:
        where = f"{spec.stream}.{spec.durable}"
        found += [f"{API}.CONSUMER.INFO.{where}", f"{API}.CONSUMER.MSG.NEXT.{where}", f"$JS.ACK.{where}.>"]
    found += [f"{API}.STREAM.INFO.{kv_stream(b)}" for b in wanted.buckets]
    for bucket in REMOTE_READS:
        found += _reading(kv_stream(bucket))
    found += [f"$KV.{topology.NODES.name}.{node}", f"$KV.{topology.SETTINGS.name}.{slots_key(node)}"]
    for store in wanted.stores:
        found += _store(store)
    return Permissions(publish=_once(found), subscribe=(f"{inbox_prefix(user)}.>",))


def provisioner(remote_nodes: Sequence[str] = ()) -> Permissions:
    """Create and update every stream, bucket and durable, and read their state; delete or purge nothing."""
    streams = [s.name for s in topology.STREAMS] + [kv_stream(b) for b in topology.BUCKETS]
    streams += [store_stream(x) for x in topology.STORES]
    streams += [store_stream(topology.remote_store(node)) for node in remote_nodes]
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


def _store(spec: StoreSpec) -> list[str]:
    """Writing and reading one object store (a node without the library's: see :func:`_stores`)."""
    stream = store_stream(spec)
    return [
        f"{API}.STREAM.INFO.{stream}",
        f"$O.{spec.name}.>",
        f"{API}.STREAM.PURGE.{stream}",
        *_reading(stream),
    ]


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
