"""Probing found files in batches and handing on what was found.

A batch's files are probed by the prober's threads; its events are published at once, then the batch is
recorded in the catalogue, while the next batch is being probed. Records follow the publishes: a crash in
between means a re-probe, never a lost event.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from librarrarian_contracts import MediaProbed, MediaProbeFailed, publish
from librarrarian_media import ProbeError
from nats.js import JetStreamContext

from . import catalogue
from .catalogue import Outcome
from .index import Index
from .probe import Examined, Prober
from .progress import ScanRun
from .walk import Found, identity_key

log = logging.getLogger(__name__)

# Files probed, published and recorded together: one round of acks and one database write per batch.
BATCH = 64


class Batches:
    def __init__(self, pool: asyncpg.Pool, js: JetStreamContext, prober: Prober, index: Index) -> None:
        self.pool = pool
        self.js = js
        self.prober = prober
        self.index = index

    async def probe_all(self, todo: list[Found], run: ScanRun | None = None) -> int:
        """Probe ``todo`` in batches, publish and record what was found; return the failures."""
        failures = 0
        delivering: asyncio.Task[None] | None = None
        try:
            for start in range(0, len(todo), BATCH):
                if run is not None and run.cancelled:
                    break
                outcomes = await self._probe_batch(todo[start : start + BATCH], run)
                failures += sum(1 for outcome in outcomes if outcome.probe is None)
                if delivering is not None:
                    await delivering
                delivering = asyncio.create_task(self._deliver(outcomes, run))
            if delivering is not None:
                await delivering
        finally:
            if delivering is not None and not delivering.done():
                delivering.cancel()
                await asyncio.wait({delivering})
        return failures

    async def _deliver(self, outcomes: list[Outcome], run: ScanRun | None) -> None:
        await asyncio.gather(*(publish(self.js, event_of(outcome)) for outcome in outcomes))
        await catalogue.record_many(self.pool, outcomes)
        self.index.recorded((str(o.found.path), identity_key(o.found.identity)) for o in outcomes)
        if run is not None:
            run.queued += len(outcomes)

    async def _probe_batch(self, batch: list[Found], run: ScanRun | None = None) -> list[Outcome]:
        """Probe a batch with as many threads as the prober has workers; a cancel stops each thread before
        its next file, so only the files already probed are published. The run's counters move as each
        file is done (the live progress), from the probe threads."""
        outcomes: dict[int, Outcome] = {}

        def report(index: int, result: Examined | ProbeError) -> None:  # in a probe thread, one at a time
            found = batch[index]
            if isinstance(result, ProbeError):
                log.warning("%s: %s", found.path, result)
                outcomes[index] = Outcome(found, None, str(result))
                if run is not None:
                    run.errors += 1
            else:
                probe, content = result
                outcomes[index] = Outcome(found, probe, None, content)
            if run is not None:
                run.probed += 1

        await self.prober.examine_all([f.path for f in batch], report, run.stop if run is not None else None)
        return [outcomes[i] for i in sorted(outcomes)]


def event_of(outcome: Outcome) -> MediaProbed | MediaProbeFailed:
    found = outcome.found
    path, library = str(found.path), str(found.library)
    if outcome.probe is not None:
        return MediaProbed(
            path=path,
            identity=found.identity,
            probe=outcome.probe,
            library=library,
            media_type=found.media_type,
            fingerprint=outcome.fingerprint,
        )
    return MediaProbeFailed(path=path, identity=found.identity, error=outcome.error or "", library=library)
