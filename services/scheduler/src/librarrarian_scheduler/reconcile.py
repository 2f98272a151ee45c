"""Re-publishing work that JetStream lost (architecture §3.1).

JetStream acknowledges a publish before it has synced it to disk; a server that crashes right then forgets the
message, while PostgreSQL (the record) says it was sent. A job whose current work message is no longer in the
``WORK`` stream, yet which no encoder has reported starting for a while, gets its message published again.
A message an encoder took and is working on is not in the stream either: the wait (longer than a start takes)
tells them apart, and if a republished job does run twice, commit fencing lets one attempt replace the file.

A message is known by its ``Nats-Msg-Id``, not by its sequence alone: after a restore of the database over a
live installation, a row's ``stream_seq`` may name a sequence that now holds another job's message (the stream
went on numbering while the backup's records stood still). Such a job's own message is gone, so it is sent again.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import asyncpg
from librarrarian_contracts import topology
from librarrarian_runtime import lifecycle
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from .store import NOTIFY_CHANNEL

log = logging.getLogger(__name__)

NATS_MSG_ID = "Nats-Msg-Id"

# The current (newest) outbox row of every job still waiting, sent long enough ago.
WAITING = """
SELECT DISTINCT ON (o.job_id) o.id, o.job_id, o.subject, o.msg_id, o.payload, o.stream_seq
FROM outbox o JOIN jobs j ON j.id = o.job_id
WHERE j.status = 'pending' AND j.updated_at < now() - make_interval(secs => $1)
ORDER BY o.job_id, o.id DESC
"""


class Reconciler:
    def __init__(self, pool: asyncpg.Pool, js: JetStreamContext, grace_seconds: float) -> None:
        self.pool, self.js, self.grace = pool, js, grace_seconds

    async def run(self, stopping: asyncio.Event) -> None:
        interval = max(1.0, self.grace / 2)
        await lifecycle.periodically(stopping, interval, self.pass_once, what="checking for lost work")

    async def pass_once(self) -> int:
        republished = 0
        for row in await self.pool.fetch(WAITING, self.grace):
            if row["stream_seq"] is None:
                continue  # not sent yet: the relay's business
            if await self._still_waiting(row["stream_seq"], row["msg_id"]):
                continue
            # A new message id: the old one may still be in JetStream's duplicate window.
            msg_id = f"{row['msg_id'].split('~')[0]}~{uuid.uuid4().hex[:8]}"
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "INSERT INTO outbox (job_id, subject, msg_id, payload) VALUES ($1, $2, $3, $4)",
                    row["job_id"],
                    row["subject"],
                    msg_id,
                    row["payload"],
                )
                await conn.execute("UPDATE jobs SET updated_at = now() WHERE id = $1", row["job_id"])
                await conn.execute("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)
            log.warning(
                "job %d: its work message %s is gone from the stream and no encoder started it; publishing it again",
                row["job_id"],
                row["msg_id"],
            )
            republished += 1
        return republished

    async def _still_waiting(self, seq: int, msg_id: str) -> bool:
        """Whether the stream still holds this very message at ``seq`` (the sequence alone may be another's)."""
        try:
            message = await self.js.get_msg(topology.WORK.name, seq)
        except NotFoundError:
            return False
        return (message.headers or {}).get(NATS_MSG_ID) == msg_id
