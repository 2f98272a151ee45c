"""Librarrarian's bus contract: messages, topology and provisioning, shared by every service."""

from . import topology, views
from .codec import decode, encode, publish, subject_of
from .messages import (
    AnyMessage,
    FileIdentity,
    JobCompleted,
    JobEvent,
    JobFailed,
    JobSkipped,
    JobStarted,
    MediaEvent,
    MediaProbe,
    MediaProbed,
    MediaProbeFailed,
    Message,
    ScanCancelRequested,
    ScanCompleted,
    ScanRequested,
    StreamInfo,
    TranscodeRequested,
)
from .provision import provision

__all__ = [
    "AnyMessage",
    "FileIdentity",
    "JobCompleted",
    "JobEvent",
    "JobFailed",
    "JobSkipped",
    "JobStarted",
    "MediaEvent",
    "MediaProbe",
    "MediaProbeFailed",
    "MediaProbed",
    "Message",
    "ScanCancelRequested",
    "ScanCompleted",
    "ScanRequested",
    "StreamInfo",
    "TranscodeRequested",
    "decode",
    "encode",
    "provision",
    "publish",
    "subject_of",
    "topology",
    "views",
]
