"""SIGTERM (here: the stop event it sets): the node takes no more work and gives its running encodes the
grace period; one that ends in time is reported, one that does not is stopped and handed back to another
node. Either way the node leaves the ``nodes`` bucket and the user's file is whole."""

from __future__ import annotations

from pathlib import Path

import nats.js.errors
import pytest
from librarrarian_contracts import JobCompleted, JobStarted, publish, topology
from librarrarian_contracts.topology import HwClass
from librarrarian_testing import eventually, library, transcode
from nats.aio.client import Client
from nats.js import JetStreamContext

from .encoder_client import (
    Scheduler,
    encoding_ffmpeg,
    node_settings,
    node_status,
    outcome,
    running_encoder,
    work,
)

CPU_WORK = topology.WORK_CONSUMERS[HwClass.CPU]


async def under_way(scheduler: Scheduler) -> None:
    await eventually(
        lambda: scheduler.progress and scheduler.progress[-1].percent > 0, timeout=60, message="encoding"
    )


async def gone_from_the_nodes_bucket(js: JetStreamContext, node: str) -> None:
    kv = await js.key_value(topology.NODES.name)
    with pytest.raises(nats.js.errors.KeyNotFoundError):
        await kv.get(node)


async def test_an_encode_that_ends_within_the_grace_period_is_reported(
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    nats_url: str,
    media: library.Library,
    tmp_path: Path,
) -> None:
    _, js = bus
    source = media.transcode["mp4"]
    digest = library.sha256(source)
    # x265 medium: long enough to be stopped mid-encode, and (on this clip) larger than the original.
    await transcode.put(js, transcode.fastest(x265_preset="medium", max_output_percent=1000))
    settings = node_settings(nats_url, media.root, "node-s", grace_seconds=150)
    async with running_encoder(settings, stop_seconds=180):  # a loaded machine may take long to finish
        await node_status(js, "node-s")
        await publish(js, work(source), topology.transcode_subject(HwClass.CPU))
        await under_way(scheduler)
    # The node stopped only after the job was done: replaced, reported and acknowledged.
    assert library.sha256(source) != digest
    assert (await js.stream_info(topology.JOBS.name)).state.messages == 2  # started, completed
    info = await js.consumer_info(CPU_WORK.stream, CPU_WORK.durable)
    assert (info.num_pending, info.num_ack_pending, info.delivered.consumer_seq) == (0, 0, 1)
    done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted) and done.node == "node-s", done
    await gone_from_the_nodes_bucket(js, "node-s")


async def test_an_encode_still_running_when_the_grace_period_ends_goes_to_another_node(
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    nats_url: str,
    media: library.Library,
    tmp_path: Path,
) -> None:
    _, js = bus
    source = media.transcode["mp4"]
    digest = library.sha256(source)
    await transcode.put(js, transcode.fastest(x265_preset="slow"))  # far longer than the grace period
    settings = node_settings(nats_url, media.root, "node-s", grace_seconds=1)
    async with running_encoder(settings):
        await publish(js, work(source), topology.transcode_subject(HwClass.CPU))
        await under_way(scheduler)
    # Stopped and handed back (nak): nothing reported, the original untouched, no ffmpeg left.
    assert not encoding_ffmpeg(source) and library.sha256(source) == digest
    assert [type(e) for e in scheduler.events] == [JobStarted]
    assert not list(source.parent.glob(".tmp_*"))
    await gone_from_the_nodes_bucket(js, "node-s")

    await transcode.put(js, transcode.fastest())
    async with running_encoder(node_settings(nats_url, media.root, "node-t")):
        done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted) and done.node == "node-t", done
    assert [(s.node, s.delivery) for s in scheduler.of(JobStarted)] == [("node-s", 1), ("node-t", 2)]
