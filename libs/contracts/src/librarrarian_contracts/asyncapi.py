"""The bus as an AsyncAPI 3.0 document (what OpenAPI is for HTTP), made from :mod:`catalog`: every channel
with its messages and their JSON Schemas, who produces and who consumes it, the request/reply endpoints,
and the public KV buckets. The gateway serves it at ``/api/v1/asyncapi.json``.

Operations are the cluster's, seen from outside: it *sends* the events and work it publishes, and
*receives* the commands and requests it answers. Who inside the cluster does which is in the
``x-producers`` and ``x-consumers`` extensions; ``x-public`` marks what an ``integration`` may subscribe to.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from . import catalog
from .messages import Command, Message
from .schema import stored_types

VERSION = "3.0.0"
REF = "#/components/schemas/{name}"
HEADERS = {
    "type": "object",
    "properties": {
        "Nats-Msg-Id": {
            "type": "string",
            "description": "the message's event_id: JetStream stores a message once per id (two-minute window)",
        }
    },
}


def _id(address: str) -> str:
    """A channel's id: its address with every run of other characters turned into ``_``."""
    return re.sub(r"[^A-Za-z0-9]+", "_", address).strip("_")


def _name(type_: type[Any]) -> str:
    return type_.__name__


def _parameters(parameters: dict[str, str]) -> dict[str, Any]:
    return {name: {"description": text} for name, text in parameters.items()}


def _roles(roles: tuple[catalog.Role, ...]) -> list[str]:
    return [str(r) for r in roles]


def _message(type_: type[Any], summary: str) -> dict[str, Any]:
    doc = (type_.__doc__ or "").strip()
    message: dict[str, Any] = {
        "name": _name(type_),
        "title": _name(type_),
        "summary": summary,
        "contentType": "application/json",
        "payload": {"$ref": REF.format(name=_name(type_))},
    }
    if isinstance(type_, type) and issubclass(type_, Message):
        message["headers"] = HEADERS
    if doc and not doc.startswith(("A request that needs", _name(type_) + "(")):
        message["description"] = " ".join(doc.split())
    return message


def _schemas() -> dict[str, Any]:
    types = [t for c in catalog.CHANNELS for t in c.messages] + list(stored_types())
    _, components = msgspec.json.schema_components(types, ref_template=REF)
    for schema in components.values():
        # An AsyncAPI schema names its discriminator with a string; msgspec writes OpenAPI's object.
        if isinstance(schema.get("discriminator"), dict):
            schema["discriminator"] = schema["discriminator"]["propertyName"]
    return dict(sorted(components.items()))


def document(version: str) -> dict[str, Any]:
    """The AsyncAPI document of this version of the cluster."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}

    for channel in catalog.CHANNELS:
        key = _id(channel.address)
        for type_ in channel.messages:
            messages[_name(type_)] = _message(type_, channel.summary)
        channels[key] = {
            "address": channel.address,
            "description": channel.summary,
            "messages": {_name(t): {"$ref": f"#/components/messages/{_name(t)}"} for t in channel.messages},
            "parameters": _parameters(channel.parameters),
            "x-stream": channel.stream.name if channel.stream else None,
            "x-public": channel.public,
        }
        is_command = all(issubclass(t, Command) for t in channel.messages)
        operations[("handle_" if is_command else "publish_") + key] = {
            "action": "receive" if is_command else "send",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": channel.summary,
            "messages": [{"$ref": f"#/channels/{key}/messages/{_name(t)}"} for t in channel.messages],
            "x-producers": _roles(channel.producers),
            "x-consumers": _roles(channel.consumers),
        }

    for endpoint in catalog.ENDPOINTS:
        key = _id(endpoint.subject)
        request, reply = _name(endpoint.request), _name(endpoint.reply)
        messages.setdefault(request, _message(endpoint.request, endpoint.summary))
        messages.setdefault(reply, _message(endpoint.reply, endpoint.summary))
        channels[key] = {
            "address": endpoint.subject,
            "description": endpoint.summary,
            "messages": {"request": {"$ref": f"#/components/messages/{request}"}},
        }
        channels[key + "_reply"] = {
            "address": None,  # the requester's inbox
            "description": f"The answer to {endpoint.subject}; an error carries a Nats-Service-Error-Code header.",
            "messages": {"reply": {"$ref": f"#/components/messages/{reply}"}},
        }
        operations["answer_" + key] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": endpoint.summary,
            "messages": [{"$ref": f"#/channels/{key}/messages/request"}],
            "reply": {
                "address": {"location": "$message.header#/reply_to"},
                "channel": {"$ref": f"#/channels/{key}_reply"},
                "messages": [{"$ref": f"#/channels/{key}_reply/messages/reply"}],
            },
            "x-producers": _roles(endpoint.clients),
            "x-consumers": [str(endpoint.server)],
        }

    for bucket in catalog.BUCKETS:
        if not bucket.public:
            continue
        key = _id(f"kv {bucket.spec.name}")
        for type_ in bucket.values:
            messages.setdefault(_name(type_), _message(type_, bucket.summary))
        channels[key] = {
            "address": f"$KV.{bucket.spec.name}.{{key}}",
            "description": f"{bucket.summary} Every put of the {bucket.spec.name!r} KV bucket.",
            "messages": {_name(t): {"$ref": f"#/components/messages/{_name(t)}"} for t in bucket.values},
            "parameters": {"key": {"description": bucket.key}},
            "x-public": True,
        }
        operations["publish_" + key] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": bucket.summary,
            "messages": [{"$ref": f"#/channels/{key}/messages/{_name(t)}"} for t in bucket.values],
            "x-producers": _roles(bucket.writers),
            "x-consumers": _roles(bucket.readers),
        }

    return {
        "asyncapi": VERSION,
        "info": {
            "title": "Librarrarian bus",
            "version": version,
            "description": (
                "The NATS subjects, JetStream streams and KV buckets of a Librarrarian cluster. Events are "
                "facts in the past tense, commands are imperative; every message is JSON with a `type` tag. "
                "An integration logs in as the `integration` user and may subscribe to the channels "
                "marked x-public."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "cluster": {
                "host": "localhost:4222",
                "protocol": "nats",
                "description": "The cluster's NATS server; each role logs in as its own user.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": dict(sorted(messages.items())), "schemas": _schemas()},
    }
