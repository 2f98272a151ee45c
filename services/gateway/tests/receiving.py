"""A local HTTP server that takes what Apprise's ``json://`` target posts, as a chat service would."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Receiver:
    port: int
    status: int = 200  # what it answers
    redirect_to: str | None = None  # answer 307 to this URL instead
    received: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)

    def titles(self) -> list[str]:
        return [str(m.get("title")) for m in list(self.received)]

    def message(self, title: str) -> dict[str, Any] | None:
        return next((m for m in list(self.received) if m.get("title") == title), None)


@contextmanager
def receiving() -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            receiver.received.append(json.loads(self.rfile.read(length)))
            receiver.authorizations.append(self.headers.get("Authorization", ""))
            if receiver.redirect_to is not None:
                self.send_response(307)
                self.send_header("Location", receiver.redirect_to)
            else:
                self.send_response(receiver.status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
