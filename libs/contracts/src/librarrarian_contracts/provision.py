"""Apply the topology idempotently (``provision``, run once before the services start by the one user
allowed to: ``librarrarian provision``, or ``up`` for itself), and check at a service's start that what it
needs is there (``require``).

Every stream and bucket is kept on ``replicas`` servers: 1 for one NATS server, 3 for a three-node JetStream
cluster (``NATS_REPLICAS``). The durables inherit their stream's count. A changed count is applied to what
exists already, in place: raised from 1 to 3 on a cluster, every message and durable stays.

The encoders' durables (whole jobs and segments) get ``work_ack_wait`` seconds of AckWait: the topology's
30 in production; the tests give them a few seconds, so that a stopped node's work comes back quickly. An
encoder heartbeats at a third of whatever AckWait its durable has."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext, api
from nats.js.errors import BadRequestError, NotFoundError

from .catalog import Role
from .permissions import Needs, kv_stream, needs, remote_needs, store_stream
from .topology import (
    BUCKETS,
    CONSUMERS,
    SEGMENT_CONSUMERS,
    STORES,
    STREAMS,
    WORK_ACK_WAIT_SECONDS,
    WORK_CONSUMERS,
    BucketSpec,
    ConsumerSpec,
    StoreSpec,
    StreamSpec,
    remote_store,
)

T = TypeVar("T")


class TopologyMissing(RuntimeError):
    """A stream, consumer or bucket a service needs is not there (or not as declared); the message names
    each and says how to provision."""


# A JetStream cluster keeps an odd number of copies at most 5 (a quorum of a Raft group): 1, 3 or 5.
ALLOWED_REPLICAS = (1, 3, 5)


def stream_config(spec: StreamSpec, replicas: int = 1) -> api.StreamConfig:
    return api.StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        retention=api.RetentionPolicy.WORK_QUEUE if spec.work_queue else api.RetentionPolicy.LIMITS,
        storage=api.StorageType.FILE,
        max_age=spec.max_age_seconds,
        duplicate_window=spec.duplicate_window_seconds,
        num_replicas=replicas,
    )


def consumer_config(spec: ConsumerSpec) -> api.ConsumerConfig:
    return api.ConsumerConfig(
        durable_name=spec.durable,
        filter_subject=spec.filter_subject,
        ack_policy=api.AckPolicy.EXPLICIT,
        deliver_policy=api.DeliverPolicy.ALL,
        ack_wait=spec.ack_wait_seconds,
        max_deliver=spec.max_deliver,
        max_ack_pending=spec.max_ack_pending,
    )


async def ensure_stream(js: JetStreamContext, spec: StreamSpec, replicas: int = 1) -> None:
    config = stream_config(spec, replicas)
    try:
        await js.stream_info(spec.name)
    except NotFoundError:
        try:
            await js.add_stream(config)
            return
        except BadRequestError:
            pass  # another service created it a moment ago; fall through to update
    await js.update_stream(config)


async def ensure_consumer(js: JetStreamContext, spec: ConsumerSpec) -> None:
    # Creating a durable with an identical config is a no-op on the server; a changed config updates it.
    await js.add_consumer(spec.stream, consumer_config(spec))


def with_work_ack_wait(spec: ConsumerSpec, ack_wait: float) -> ConsumerSpec:
    """``spec`` with ``ack_wait`` when it is one of the encoders' durables; any other as it is."""
    if spec in WORK_CONSUMERS.values() or spec in SEGMENT_CONSUMERS.values():
        return dataclasses.replace(spec, ack_wait_seconds=ack_wait)
    return spec


async def ensure_bucket(js: JetStreamContext, spec: BucketSpec, replicas: int = 1) -> None:
    try:
        info = await js.stream_info(kv_stream(spec))
    except NotFoundError:
        try:
            await js.create_key_value(
                bucket=spec.name, ttl=spec.ttl_seconds, history=spec.history, replicas=replicas
            )
            return
        except BadRequestError:
            info = await js.stream_info(kv_stream(spec))  # another provision created it a moment ago
    if info.config.num_replicas != replicas:
        # Only the count changes: the bucket's other settings are the client library's, kept as they are.
        await js.update_stream(dataclasses.replace(info.config, num_replicas=replicas))


async def provision(
    js: JetStreamContext,
    replicas: int = 1,
    remote_nodes: Sequence[str] = (),
    *,
    work_ack_wait: float = WORK_ACK_WAIT_SECONDS,
) -> None:
    """``remote_nodes``: the nodes without the library the cluster names; each gets a transfer store.
    ``work_ack_wait``: the AckWait of the encoders' durables (jobs and segments)."""
    if replicas not in ALLOWED_REPLICAS:
        raise ValueError(f"replicas must be 1, 3 or 5, not {replicas}")
    if work_ack_wait <= 0:
        raise ValueError(f"work_ack_wait must be a positive number of seconds, not {work_ack_wait}")
    for stream in STREAMS:
        await ensure_stream(js, stream, replicas)
    for consumer in CONSUMERS:
        await ensure_consumer(js, with_work_ack_wait(consumer, work_ack_wait))
    for bucket in BUCKETS:
        await ensure_bucket(js, bucket, replicas)
    for store in STORES:
        await ensure_store(js, store, replicas)
    for node in remote_nodes:
        await ensure_store(js, remote_store(node), replicas)


async def ensure_store(js: JetStreamContext, spec: StoreSpec, replicas: int = 1) -> None:
    try:
        info = await js.stream_info(store_stream(spec))
    except NotFoundError:
        config = api.ObjectStoreConfig(
            bucket=spec.name, ttl=spec.ttl_seconds, max_bytes=spec.max_bytes or -1, replicas=replicas
        )
        try:
            await js.create_object_store(spec.name, config)
            return
        except BadRequestError:
            info = await js.stream_info(store_stream(spec))  # another provision created it a moment ago
    if info.config.num_replicas != replicas:
        await js.update_stream(dataclasses.replace(info.config, num_replicas=replicas))


HOW_TO_PROVISION = (
    "run `librarrarian provision` with the provision user's NATS_URL (compose: the provision service; "
    "`librarrarian up` does it by itself), then start this service again"
)


async def require(js: JetStreamContext, role: Role) -> None:
    """Check that every stream, durable and bucket ``role`` uses exists, each durable on its declared
    subject; raise :class:`TopologyMissing` naming what is not."""
    await _require(js, needs(role), str(role))


async def require_remote(js: JetStreamContext, node: str) -> None:
    """:func:`require` for a node without the library: its own transfer store among the rest."""
    await _require(js, remote_needs(node), f"node without the library {node!r}")


async def _require(js: JetStreamContext, wanted: Needs, who: str) -> None:
    missing: list[str] = []
    for stream in wanted.streams:
        await _look_up(f"stream {stream.name}", js.stream_info(stream.name), missing)
    for spec in wanted.durables:
        info = await _look_up(
            f"consumer {spec.durable} on {spec.stream}", js.consumer_info(spec.stream, spec.durable), missing
        )
        if info is not None and info.config.filter_subject != spec.filter_subject:
            missing.append(
                f"consumer {spec.durable} reads {info.config.filter_subject}, not {spec.filter_subject}"
            )
    for bucket in wanted.buckets:
        await _look_up(f"bucket {bucket.name}", js.stream_info(kv_stream(bucket)), missing)
    for store in wanted.stores:
        await _look_up(f"object store {store.name}", js.stream_info(store_stream(store)), missing)
    if missing:
        raise TopologyMissing(f"NATS lacks what the {who} needs: {'; '.join(missing)}. {HOW_TO_PROVISION}")


async def _look_up(what: str, lookup: Awaitable[T], missing: list[str]) -> T | None:
    try:
        return await lookup
    except NotFoundError:
        missing.append(what)
    except NatsTimeoutError:  # a refused request goes unanswered
        missing.append(f"{what} (no answer: is JetStream on, and may this user ask?)")
    return None
