"""Request/reply between services (nats.micro endpoints): a typed query out, a typed reply back.

An endpoint reports a bad query with ``await request.respond_error("400", reason)``; the asker sees
it as ``QueryFailed`` with that reason.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

T = TypeVar("T")

_encoder = msgspec.json.Encoder()
SERVICE_ERROR = "Nats-Service-Error"


class QueryFailed(RuntimeError):
    """The other service answered with an error, or did not answer in time."""


async def ask(
    nc: Client, subject: str, query: msgspec.Struct, reply_type: type[T], timeout: float = 5.0
) -> T:
    try:
        reply = await nc.request(subject, _encoder.encode(query), timeout=timeout)
    except (TimeoutError, NatsTimeoutError):
        raise QueryFailed(f"no answer on {subject} within {timeout} s") from None
    except NoRespondersError:
        raise QueryFailed(f"no service answers on {subject}") from None
    if reply.headers and SERVICE_ERROR in reply.headers:
        raise QueryFailed(f"{subject}: {reply.headers[SERVICE_ERROR]}")
    return msgspec.json.decode(reply.data, type=reply_type)


def answer(value: msgspec.Struct) -> bytes:
    return _encoder.encode(value)
