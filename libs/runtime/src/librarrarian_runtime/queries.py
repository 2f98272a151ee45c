"""Asking another service (a ``nats.micro`` endpoint): a typed request out, a typed reply back, or the
endpoint's error raised as the same :mod:`errors` class it raised there."""

from __future__ import annotations

from typing import TypeVar

import msgspec
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from .errors import Unavailable, from_code

T = TypeVar("T")

_encoder = msgspec.json.Encoder()
ERROR_HEADER = "Nats-Service-Error"
CODE_HEADER = "Nats-Service-Error-Code"


async def ask(
    nc: Client, subject: str, query: msgspec.Struct, reply_type: type[T], timeout: float = 5.0
) -> T:
    try:
        reply = await nc.request(subject, _encoder.encode(query), timeout=timeout)
    except (TimeoutError, NatsTimeoutError):
        raise Unavailable(f"no answer on {subject} within {timeout:g} s") from None
    except NoRespondersError:
        raise Unavailable(f"no service answers on {subject}") from None
    headers = reply.headers or {}
    if ERROR_HEADER in headers or CODE_HEADER in headers:
        raise from_code(headers.get(CODE_HEADER, "500"), headers.get(ERROR_HEADER, "") or subject)
    return msgspec.json.decode(reply.data, type=reply_type)
