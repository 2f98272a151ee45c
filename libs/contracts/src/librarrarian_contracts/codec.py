"""Encoders and decoders, built once per union (msgspec's advice), and the publish helper."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

import msgspec
from nats.js import JetStreamContext
from nats.js.errors import NoStreamResponseError, ServiceUnavailableError

from .messages import (
    ArrCommand,
    ArrEvent,
    BackupEvent,
    CleanupMessage,
    EncodeSegment,
    JobReport,
    JobStateChanged,
    MediaEvent,
    Message,
    RemoveStaleFile,
    RenameFile,
    ScanCommand,
    Transcode,
)

T = TypeVar("T")

_encoder = msgspec.json.Encoder()
media_decoder = msgspec.json.Decoder(MediaEvent)
scan_decoder = msgspec.json.Decoder(ScanCommand)
cleanup_decoder = msgspec.json.Decoder(CleanupMessage)
# Each worker's durable carries one kind of work: transcodes to the encoders, deletions to the cleanup service.
work_decoder = msgspec.json.Decoder(Transcode)
segment_decoder = msgspec.json.Decoder(EncodeSegment)
cleanup_work_decoder = msgspec.json.Decoder(RemoveStaleFile)
rename_work_decoder = msgspec.json.Decoder(RenameFile)
arr_decoder = msgspec.json.Decoder(ArrEvent)
arr_command_decoder = msgspec.json.Decoder(ArrCommand)
job_decoder = msgspec.json.Decoder(JobReport)
queue_decoder = msgspec.json.Decoder(JobStateChanged)
backup_decoder = msgspec.json.Decoder(BackupEvent)


def encode(value: Any) -> bytes:
    return _encoder.encode(value)


def decode(data: bytes, type_: type[T]) -> T:
    return msgspec.json.decode(data, type=type_)


def subject_of(message: Message) -> str:
    """The message's tag: the subject of an event (commands have subjects of their own, see
    :mod:`topology`)."""
    tag = type(message).__struct_config__.tag
    assert isinstance(tag, str)
    return tag


# How long a publish is tried again while its stream does not answer. In a JetStream cluster, a stream whose
# leader went away (its server killed, say) answers nothing until the others elect another: a few seconds,
# ten or more on a busy machine. One server has no such gap, so there a stream that does not answer is gone
# for longer, and the caller learns it after this long.
PUBLISH_RETRY_SECONDS = 30.0
FIRST_RETRY_DELAY_SECONDS = 0.1
MAX_RETRY_DELAY_SECONDS = 2.0


async def publish(
    js: JetStreamContext,
    message: Message,
    subject: str | None = None,
    *,
    retry_seconds: float = PUBLISH_RETRY_SECONDS,
) -> None:
    """Publish with ``Nats-Msg-Id`` = event id, so a retried publish is stored once: a publish the stream
    did not confirm (no leader answered, or its answer was lost) is tried again for ``retry_seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + retry_seconds
    delay = FIRST_RETRY_DELAY_SECONDS
    while True:
        try:
            await js.publish(
                subject or subject_of(message),
                encode(message),
                headers={"Nats-Msg-Id": message.event_id},
            )
            return
        except (NoStreamResponseError, ServiceUnavailableError, TimeoutError):
            if loop.time() + delay > deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, MAX_RETRY_DELAY_SECONDS)
