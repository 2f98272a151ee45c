"""What the Arr apps did to files, heard from the arr service: a file an app renamed keeps its catalogue
record under its new name (it is the same file: not probed, not queued as new), and a file an app imported is
probed at once instead of at the next scan or when the watch sees it settle."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from librarrarian_contracts import FileIdentity, FileImported, FileRenamed, topology
from librarrarian_contracts.codec import arr_decoder
from librarrarian_contracts.enums import ScanTrigger
from librarrarian_contracts.messages import ArrEvent
from librarrarian_runtime import consumer
from librarrarian_runtime.media_paths import OutsideMediaPaths, contain
from nats.js import JetStreamContext

from . import catalogue
from .scan import Scanner

log = logging.getLogger(__name__)


class ArrFiles:
    def __init__(self, scanner: Scanner) -> None:
        self.scanner = scanner

    async def consume(self, js: JetStreamContext, stopping: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as tasks:
            for spec in (topology.SCANNER_RENAMES, topology.SCANNER_IMPORTS):
                tasks.create_task(consumer.consume(js, spec, arr_decoder, self.handle, stopping))

    async def handle(self, event: ArrEvent) -> None:
        if isinstance(event, FileImported):
            await self.scanner.scan_files([Path(event.path)], trigger=ScanTrigger.ARR)
        elif isinstance(event, FileRenamed):
            await self.renamed(event)

    async def renamed(self, event: FileRenamed) -> None:
        try:
            old = contain(event.path, self.scanner.media_paths)
            new = contain(event.new_path, self.scanner.media_paths)
            st = await asyncio.to_thread(os.stat, new, follow_symlinks=False)
        except (OutsideMediaPaths, OSError) as error:
            log.warning("%s renamed %s: not followed (%s)", event.app, event.path, error)
            return
        folder = self.scanner.folders.scanned(new)
        identity = FileIdentity(size=st.st_size, mtime_ns=st.st_mtime_ns, inode=st.st_ino, links=st.st_nlink)
        if folder is not None and await catalogue.move(
            self.scanner.pool, str(old), str(new), identity, str(folder.path)
        ):
            self.scanner.index.moved(str(old), str(new))
            log.info("%s renamed %s to %s: its record follows it", event.app, old, new)
        else:
            log.info(
                "%s renamed %s to %s: not the file we know there; the next scan looks at it",
                event.app,
                old,
                new,
            )
