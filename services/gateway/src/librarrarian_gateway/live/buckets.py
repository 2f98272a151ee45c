"""One KV bucket as the live feed holds it: its current entries, each change as a ready-made server-sent
event, and the entries the bucket's TTL removed without telling its watchers."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from librarrarian_contracts.topology import BucketSpec
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from .broadcaster import frame

log = logging.getLogger(__name__)


@dataclass
class Held:
    data: dict[str, Any]  # what the browser gets: the entry's fields and its key
    expires: float  # event-loop time


class LiveBucket:
    """The current entries of one bucket, as its watch reported them.

    An entry that outlives the bucket's TTL is forgotten here too: the server removes it without telling
    watchers, and a node that died must leave the dashboard all the same.
    """

    def __init__(self, spec: BucketSpec, kind: type[Any], event: str) -> None:
        self.spec, self.event = spec, event
        self.decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(kind)
        self.entries: dict[str, Held] = {}

    def apply(self, entry: KeyValue.Entry, now: float) -> bytes | None:
        """Take one watched entry; the event to send, if it changed anything."""
        if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
            return self.remove(entry.key)
        try:
            value = self.decoder.decode(entry.value)
        except msgspec.DecodeError as error:
            log.warning("live feed: ignoring %s entry %s: %s", self.spec.name, entry.key, error)
            return None
        data = {"key": entry.key, **msgspec.to_builtins(value)}
        self.entries[entry.key] = Held(data, now + self.lifetime(entry.created))
        return frame(self.event, data)

    def lifetime(self, created: object) -> float:
        """How much longer the entry lives: the bucket's TTL less the age it had when it reached us."""
        ttl = self.spec.ttl_seconds
        if ttl is None:
            return math.inf
        # nats-py types ``created`` as an int but hands over the message's datetime.
        age = (datetime.now(UTC) - created).total_seconds() if isinstance(created, datetime) else 0.0
        return ttl - min(max(age, 0.0), ttl)

    def remove(self, key: str) -> bytes | None:
        if self.entries.pop(key, None) is None:
            return None
        return frame(f"{self.event}-removed", {"key": key})

    def keep_only(self, keys: set[str]) -> list[bytes]:
        """After a (re)started watch delivered every current entry: forget the ones it did not deliver."""
        return [chunk for key in set(self.entries) - keys if (chunk := self.remove(key))]

    def expire(self, now: float) -> list[bytes]:
        gone = [key for key, held in self.entries.items() if held.expires <= now]
        return [chunk for key in gone if (chunk := self.remove(key))]

    def values(self) -> list[dict[str, Any]]:
        return [self.entries[key].data for key in sorted(self.entries)]
