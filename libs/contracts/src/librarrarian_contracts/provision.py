"""Apply the topology idempotently: every service calls ``provision`` at start."""

from __future__ import annotations

from nats.js import JetStreamContext, api
from nats.js.errors import BadRequestError, NotFoundError

from .topology import BUCKETS, CONSUMERS, STREAMS, BucketSpec, ConsumerSpec, StreamSpec


def stream_config(spec: StreamSpec) -> api.StreamConfig:
    return api.StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        retention=api.RetentionPolicy.WORK_QUEUE if spec.work_queue else api.RetentionPolicy.LIMITS,
        storage=api.StorageType.FILE,
        max_age=spec.max_age_seconds,
        duplicate_window=spec.duplicate_window_seconds,
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


async def ensure_stream(js: JetStreamContext, spec: StreamSpec) -> None:
    config = stream_config(spec)
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


async def ensure_bucket(js: JetStreamContext, spec: BucketSpec) -> None:
    try:
        await js.key_value(spec.name)
    except (NotFoundError, BadRequestError):
        try:
            await js.create_key_value(bucket=spec.name, ttl=spec.ttl_seconds, history=spec.history)
        except BadRequestError:
            await js.key_value(spec.name)


async def provision(js: JetStreamContext) -> None:
    for stream in STREAMS:
        await ensure_stream(js, stream)
    for consumer in CONSUMERS:
        await ensure_consumer(js, consumer)
    for bucket in BUCKETS:
        await ensure_bucket(js, bucket)
