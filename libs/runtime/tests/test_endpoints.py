"""Request/reply on the real NATS server: an endpoint's refusals reach the asker as the same error class,
a bad request is a 400, a crash in a handler is a logged 500, and nobody answering is ``Unavailable``."""

from __future__ import annotations

import logging

import msgspec
import pytest
from librarrarian_runtime.endpoints import Endpoint, serve
from librarrarian_runtime.errors import (
    BadRequest,
    Conflict,
    InternalError,
    NotFound,
    ServiceError,
    Unavailable,
    UpstreamFailed,
    from_code,
)
from librarrarian_runtime.queries import ask
from nats.aio.client import Client
from nats.js import JetStreamContext


class Lookup(msgspec.Struct, frozen=True, kw_only=True):
    id: int


class Found(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    name: str


async def lookup(query: Lookup) -> Found:
    if query.id == 404:
        raise NotFound("there is no thing 404\nat all")  # a line break cannot travel in a header
    if query.id == 409:
        raise Conflict("thing 409 is busy")
    if query.id == 502:
        raise UpstreamFailed("Plex refused")
    if query.id == 500:
        raise KeyError("a bug")
    return Found(id=query.id, name="thing")


async def test_errors_cross_the_bus_as_their_own_class(
    bus: tuple[Client, JetStreamContext], caplog: pytest.LogCaptureFixture
) -> None:
    nc, _ = bus
    service = await serve(
        nc,
        name="things",
        version="1.0.0",
        description="test",
        endpoints=[Endpoint("get", "things.get", Lookup, lookup)],
    )
    try:
        assert await ask(nc, "things.get", Lookup(id=1), Found) == Found(id=1, name="thing")
        with pytest.raises(NotFound, match=r"^there is no thing 404 at all$"):
            await ask(nc, "things.get", Lookup(id=404), Found)
        with pytest.raises(Conflict, match="thing 409 is busy") as conflict:
            await ask(nc, "things.get", Lookup(id=409), Found)
        assert conflict.value.status == 409
        with pytest.raises(UpstreamFailed, match="Plex refused"):
            await ask(nc, "things.get", Lookup(id=502), Found)
        with caplog.at_level(logging.ERROR), pytest.raises(InternalError, match=r"things\.get failed"):
            await ask(nc, "things.get", Lookup(id=500), Found)
        assert "KeyError: 'a bug'" in caplog.text  # logged with its traceback where it happened
        with pytest.raises(BadRequest, match=r"Expected `int`, got `str` - at `\$\.id`"):
            await raw_request(nc, b'{"id": "x"}')
        with pytest.raises(Unavailable, match=r"no service answers on things\.nobody"):
            await ask(nc, "things.nobody", Lookup(id=1), Found, timeout=1)
    finally:
        await service.stop()


async def raw_request(nc: Client, data: bytes) -> Found:
    """What another client might send: not a typed query but bytes, here malformed."""
    reply = await nc.request("things.get", data, timeout=5)
    headers = reply.headers or {}
    raise from_code(headers["Nats-Service-Error-Code"], headers["Nats-Service-Error"])


def test_every_error_class_has_its_own_code() -> None:
    classes = ServiceError.__subclasses__()
    assert len({c.code for c in classes}) == len(classes)
