"""Answering requests (a ``nats.micro`` service): one way for every service.

Each endpoint names its request type; its decoder is built once. The handler gets the decoded request and
returns the reply. A request that does not decode is answered with a 400; a handler raises an
:mod:`errors` class for any other refusal; anything else it raises is logged with its traceback and
answered with a 500, so the asker gets an answer instead of a timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from nats import micro
from nats.aio.client import Client
from nats.micro.request import Request
from nats.micro.service import Service

from .errors import BadRequest, InternalError, ServiceError

log = logging.getLogger(__name__)

_encoder = msgspec.json.Encoder()


@dataclass(frozen=True)
class Endpoint:
    name: str
    subject: str
    request: type[Any]
    handle: Callable[[Any], Awaitable[msgspec.Struct]]


def _one_line(text: str) -> str:
    """A header value holds no line breaks."""
    return " ".join(text.split())


def _handler(endpoint: Endpoint) -> Callable[[Request], Awaitable[None]]:
    decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(endpoint.request)

    async def on_request(request: Request) -> None:
        try:
            try:
                value = decoder.decode(request.data or b"{}")
            except (msgspec.DecodeError, msgspec.ValidationError) as error:
                raise BadRequest(f"bad request on {endpoint.subject}: {error}") from None
            reply = await endpoint.handle(value)
        except ServiceError as error:
            await request.respond_error(error.code, _one_line(str(error)))
            return
        except Exception:  # the endpoint's outermost edge: the asker gets an answer, not a timeout
            log.exception("%s: answering failed", endpoint.subject)
            await request.respond_error(
                InternalError.code, f"{endpoint.subject} failed; see the service's log"
            )
            return
        await request.respond(_encoder.encode(reply))

    return on_request


async def serve(
    nc: Client, *, name: str, version: str, description: str, endpoints: Sequence[Endpoint]
) -> Service:
    """Register the endpoints as one ``nats.micro`` service (discoverable, with stats and ping)."""
    service = await micro.add_service(nc, name=name, version=version, description=description)
    for endpoint in endpoints:
        await service.add_endpoint(name=endpoint.name, subject=endpoint.subject, handler=_handler(endpoint))
    return service
