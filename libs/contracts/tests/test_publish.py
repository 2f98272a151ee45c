"""A publish its stream does not confirm is tried again under the same ``Nats-Msg-Id``: what a JetStream
cluster needs while it elects a stream's new leader (tests/test_nats_cluster.py kills one), shown here on
one server by a stream that appears only after the first tries."""

from __future__ import annotations

import asyncio

import nats
import pytest
from librarrarian_contracts import JobStarted, publish
from librarrarian_testing import eventually
from nats.aio.msg import Msg
from nats.js import api
from nats.js.errors import NoStreamResponseError

STREAM = "RETRIED"


def started() -> JobStarted:
    return JobStarted(event_id="7:1:started:1", job_id=7, attempt=1, delivery=1, node="n", path="/m/a.mkv")


async def test_a_publish_nobody_confirms_is_sent_again_until_the_stream_answers(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream(timeout=0.2)  # each try gives up quickly
    tries: list[Msg] = []

    async def unanswered(msg: Msg) -> None:  # there, but no stream: a try times out
        tries.append(msg)

    message = started()
    listener = await nc.subscribe("retried.job", cb=unanswered)
    try:
        sending = asyncio.create_task(publish(js, message, subject="retried.job", retry_seconds=60))
        await eventually(lambda: len(tries) >= 2, message="two unconfirmed tries")
        assert not sending.done()
        await listener.unsubscribe()
        await js.add_stream(api.StreamConfig(name=STREAM, subjects=["retried.>"]))
        await asyncio.wait_for(sending, 30)
        info = await js.stream_info(STREAM)
        assert info.state.messages == 1
    finally:
        await nc.close()


async def test_a_stream_that_never_answers_fails_the_publish_after_the_retry_time(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        with pytest.raises(NoStreamResponseError):
            await publish(nc.jetstream(), started(), subject="nowhere.job", retry_seconds=0.5)
    finally:
        await nc.close()
