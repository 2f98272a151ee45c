"""The apps' Connect → Webhook calls, handed over by the gateway with the key they presented: a file imported
or upgraded (probed and queued at once), renamed (its history follows it) or deleted (its waiting job dropped).

The payloads are the apps' webhook bodies (``eventType`` with ``series``/``movie``/``artist``, the file in
``episodeFile``/``movieFile``/``trackFiles``, renames in ``renamed*Files`` with ``previousPath``, an upgrade's
replaced files in ``deletedFiles``). Paths are the app's: mapped to ours and checked to lie inside the media
paths; any other is ignored and logged. Nothing of the body is echoed back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import msgspec
from librarrarian_contracts import (
    ArrApp,
    FileDeleted,
    FileImported,
    FileRenamed,
    Message,
    publish,
)
from librarrarian_contracts.arr import ArrSettings, WebhookCall, WebhookOutcome
from librarrarian_runtime.errors import BadRequest, Unauthorized
from nats.js import JetStreamContext

from .apps import APPS
from .connections import Connections

log = logging.getLogger(__name__)


class _File(msgspec.Struct, rename="camel"):
    path: str | None = None
    previous_path: str | None = None


class _Payload(msgspec.Struct, rename="camel"):
    event_type: str = ""
    episode_file: _File | None = None
    movie_file: _File | None = None
    track_files: list[_File] = []
    renamed_episode_files: list[_File] = []
    renamed_movie_files: list[_File] = []
    renamed_track_files: list[_File] = []
    deleted_files: list[_File] = []
    is_upgrade: bool = False
    delete_reason: str = ""

    def files(self) -> list[_File]:
        single = self.episode_file or self.movie_file
        return [single] if single else list(self.track_files)

    def renamed(self) -> list[_File]:
        return self.renamed_episode_files or self.renamed_movie_files or self.renamed_track_files


_decoder = msgspec.json.Decoder(_Payload)
DELETIONS = {"EpisodeFileDelete", "MovieFileDelete", "TrackFileDelete"}


@dataclass
class Webhooks:
    connections: Connections
    js: JetStreamContext

    async def handle(self, call: WebhookCall) -> WebhookOutcome:
        if not await self.connections.store.webhook_key_matches(call.key):
            raise Unauthorized("not the webhook key: make one on the Options page and give it to the app")
        name = APPS[call.app].name
        settings = await self.connections.store.app(call.app)
        if not settings.enabled:
            raise BadRequest(f"{name} is not enabled here")
        try:
            payload = _decoder.decode(call.body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise BadRequest(f"not a {name} webhook body") from None
        event = payload.event_type
        messages: list[Message] = []
        if event == "Download":
            for file in payload.deleted_files:  # what an upgrade replaced: first, so its jobs go first
                if (gone := self._local(call.app, settings, file.path)) is not None:
                    messages.append(FileDeleted(app=call.app, path=gone, reason="upgrade"))
            for file in payload.files():
                if (path := self._local(call.app, settings, file.path)) is not None:
                    messages.append(FileImported(app=call.app, path=path, upgrade=payload.is_upgrade))
        elif event == "Rename":
            for file in payload.renamed():
                old = self._local(call.app, settings, file.previous_path)
                new = self._local(call.app, settings, file.path)
                if old is not None and new is not None and old != new:
                    messages.append(FileRenamed(app=call.app, path=old, new_path=new))
        elif event in DELETIONS:
            for file in payload.files():
                if (path := self._local(call.app, settings, file.path)) is not None:
                    messages.append(FileDeleted(app=call.app, path=path, reason=payload.delete_reason))
        for message in messages:
            await publish(self.js, message)
        detail = f"{len(messages)} file event(s)" if messages else "nothing to do"
        log.info("%s webhook %s: %s", name, event or "(no eventType)", detail)
        return WebhookOutcome(event=event, detail=detail)

    def _local(self, app: ArrApp, settings: ArrSettings, path: str | None) -> str | None:
        if not path:
            return None
        local = self.connections.local(settings, path)
        if local is None:
            log.warning("%s webhook names %s: outside the media paths once mapped; ignored", app, path)
            return None
        return str(local)
