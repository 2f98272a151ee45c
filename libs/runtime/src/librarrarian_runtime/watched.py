"""The latest value of one KV key (of the ``settings`` bucket unless told otherwise), kept current by a :class:`~.kv_watch.BucketWatch`: how services apply
settings without restarts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

import msgspec
from librarrarian_contracts import topology
from nats.js import JetStreamContext
from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from .kv_watch import BucketWatch

log = logging.getLogger(__name__)

T = TypeVar("T")


class Watched(Generic[T]):
    """``value`` is the key's current value decoded as ``type_``, or ``default`` while the key is missing
    (or deleted). A value that does not decode is logged and ignored: the last good one stays."""

    def __init__(
        self,
        js: JetStreamContext,
        key: str,
        type_: type[T],
        default: T,
        *,
        bucket: str = topology.SETTINGS.name,
        seed: T | None = None,
    ) -> None:
        """``seed``: written as the key's value when it has none (a first-start default, such as the
        service's environment), before the watch starts; a key that has a value keeps it."""
        self.js, self.bucket, self.seed = js, bucket, seed
        self.key, self.default = key, default
        self.decoder: msgspec.json.Decoder[T] = msgspec.json.Decoder(type_)
        self.value: T = default
        self._listeners: list[Callable[[T], None]] = []
        self._watch = BucketWatch(js, bucket, self._apply, key=key)

    def on_change(self, listener: Callable[[T], None]) -> None:
        self._listeners.append(listener)

    async def start(self) -> Watched[T]:
        """Returns once the current value is known."""
        if self.seed is not None:
            await self._seed(self.seed)
        await self._watch.start()
        return self

    async def stop(self) -> None:
        await self._watch.stop()

    async def _seed(self, value: T) -> None:
        kv = await self.js.key_value(self.bucket)
        try:
            await kv.create(self.key, msgspec.json.encode(value))
        except KeyWrongLastSequenceError:
            return  # set already (by a user, or by another replica's first start): that value holds
        log.info(
            "setting %r had no value: set to %s (from the environment)",
            self.key,
            msgspec.json.encode(value).decode(),
        )

    def _apply(self, entry: KeyValue.Entry) -> None:
        if entry.operation in ("DEL", "PURGE") or not entry.value:
            value = self.default
        else:
            try:
                value = self.decoder.decode(entry.value)
            except (msgspec.DecodeError, msgspec.ValidationError) as error:
                log.error(
                    "ignoring a bad value for setting %r (keeping the last good one): %s", self.key, error
                )
                return
        self.value = value
        for listener in self._listeners:
            listener(value)
