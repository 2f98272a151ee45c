"""A PostgreSQL server from the ``pgserver`` wheel, in a data directory, on a Unix socket only."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any


class PostgresServer:
    """Start with ``start()``: a second start on the same directory finds the data (and a running
    server) again. ``stop()`` stops it when this process holds the last handle."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._server: Any = None

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(self.data_dir.parent))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            from pgserver import get_server  # type: ignore[attr-defined]

            self._server = get_server(self.data_dir, cleanup_mode="stop")

    def uri(self, database: str = "postgres") -> str:
        assert self._server is not None, "start() first"
        return str(self._server.get_uri(database))

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
