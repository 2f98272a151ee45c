"""Encoders and decoders, built once per union (msgspec's advice), and the publish helper."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from nats.js import JetStreamContext

from .messages import (
    ArrCommand,
    ArrEvent,
    BackupEvent,
    CleanupMessage,
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


async def publish(js: JetStreamContext, message: Message, subject: str | None = None) -> None:
    """Publish with ``Nats-Msg-Id`` = event id, so a retried publish is stored once."""
    await js.publish(
        subject or subject_of(message),
        encode(message),
        headers={"Nats-Msg-Id": message.event_id},
    )
