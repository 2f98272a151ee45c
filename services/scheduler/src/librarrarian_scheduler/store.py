"""The scheduler's tables: jobs of record, the outbox and the inbox. Every function runs on a
connection the caller holds inside a transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import msgspec
from asyncpg import Connection, Record
from librarrarian_contracts import (
    FileIdentity,
    JobChange,
    JobStateChanged,
    MediaProbe,
    Message,
    RemoveStaleFile,
    RenameFile,
    ReviewDecision,
    Transcode,
    WaitingOutput,
    encode,
    topology,
    tracks,
)
from librarrarian_contracts.tracks import TrackPlan
from librarrarian_contracts.views import JobView

from . import ordering
from .policy import Known, SameContent

NOTIFY_CHANNEL = "scheduler_outbox"
log = logging.getLogger("librarrarian_scheduler.jobs")
# A change that needs a look stands out; the rest is the job's ordinary life.
LEVELS = {JobChange.RETRY_SCHEDULED: logging.WARNING, JobChange.FAILED: logging.ERROR}
# The changes whose row's reason says why they happened (elsewhere it may be an earlier attempt's).
WITH_REASON = {
    JobChange.AWAITING_APPROVAL,
    JobChange.READY_TO_REPLACE,
    JobChange.RETRY_SCHEDULED,
    JobChange.SKIPPED,
    JobChange.FAILED,
}

JOB_COLUMNS = (
    "id, kind, path, status, attempts, node, reason, error_log, codec_before, source_size AS size_before,"
    " size_after, output_path, queued_at, started_at, finished_at, retry_at, version, app, new_path,"
    " planned_streams AS streams, track_plan, vmaf,"
    " EXISTS (SELECT 1 FROM previews p WHERE p.job_id = jobs.id) AS previews"
)


def job_view(row: Record) -> JobView:
    """A row selected with ``JOB_COLUMNS`` as the contract shows it."""
    values = {name: row[name] for name in JobView.__struct_fields__}
    values["streams"] = None if row["streams"] is None else tuple(row["streams"])
    values["track_plan"] = tuple(row["track_plan"])
    return JobView(**values)


async def claim(conn: Connection, event_id: str) -> bool:
    """True the first time an event id is seen; False for a redelivery."""
    inserted = await conn.fetchval(
        "INSERT INTO inbox (event_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING true", event_id
    )
    return bool(inserted)


def _known(row: Record | None) -> Known | None:
    if row is None:
        return None
    return Known(
        row["status"],
        row["source_size"],
        row["source_mtime_ns"],
        row["output_path"],
        row["size_after"],
        row["id"],
        row["source_links"],
    )


@dataclass(frozen=True)
class Lookups:
    """What the records say of a reported path, read together (one statement, one snapshot)."""

    newest: Known | None  # its newest transcode job
    produced: Known | None  # the done transcode whose output it is
    sibling_in_flight: bool  # a pending or running job for the same name with another extension
    held: str | None  # why its transcode waits (its Arr app is about to replace the file)


_KNOWN = "id, status, source_size, source_mtime_ns, source_links, output_path, size_after"
# In one statement, in one snapshot: a job's completion committing meanwhile is seen by all four or none
# (read one by one, the job in flight had to be looked for before the done one, so that one of the two saw it).
LOOKUPS = (
    f"(SELECT 'newest' AS which, {_KNOWN}, NULL::text AS reason FROM jobs"
    "  WHERE path = $1 AND kind = 'transcode' ORDER BY id DESC LIMIT 1)"
    f" UNION ALL (SELECT 'produced', {_KNOWN}, NULL FROM jobs"
    "  WHERE output_path = $1 AND status = 'done' AND kind = 'transcode' ORDER BY id DESC LIMIT 1)"
    " UNION ALL (SELECT 'sibling', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM jobs"
    "  WHERE status IN ('pending', 'running') AND path <> $1 AND kind = 'transcode'"
    '  AND (path COLLATE "C") >= $2 AND (path COLLATE "C") < $3'
    "  AND strpos(substr(path, length($2) + 1), '/') = 0 LIMIT 1)"
    " UNION ALL (SELECT 'held', NULL, NULL, NULL, NULL, NULL, NULL, NULL, reason FROM holds WHERE path = $1)"
)


async def lookups(conn: Connection, path: str) -> Lookups:
    """The records of ``path`` the intake decides by, in one round trip (a path without an extension has no
    siblings: its range is empty)."""
    low, high = sibling_range(path) or (None, None)
    rows = {r["which"]: r for r in await conn.fetch(LOOKUPS, path, low, high)}
    held = rows.get("held")
    return Lookups(
        newest=_known(rows.get("newest")),
        produced=_known(rows.get("produced")),
        sibling_in_flight="sibling" in rows,
        held=held["reason"] if held is not None else None,
    )


async def same_content(conn: Connection, path: str, fingerprint: str) -> SameContent | None:
    """A job for another path with this content: first one whose output it is (seen by the scanner at
    the job's output path with the output's size), else one whose source it is (done or in flight)."""
    row = await conn.fetchrow(
        "(SELECT j.id, j.status, j.path, true AS as_output FROM sightings s"
        " JOIN jobs j ON j.output_path = s.path AND j.size_after = s.size AND j.status = 'done'"
        "   AND j.kind = 'transcode'"
        " WHERE s.fingerprint = $1 ORDER BY j.id DESC LIMIT 1)"
        " UNION ALL (SELECT id, status, path, false FROM jobs WHERE source_fingerprint = $1 AND path <> $2"
        "   AND kind = 'transcode' AND status IN ('pending', 'running', 'done') ORDER BY id DESC LIMIT 1)"
        " ORDER BY as_output DESC LIMIT 1",
        fingerprint,
        path,
    )
    if row is None:
        return None
    return SameContent(job_id=row["id"], status=row["status"], path=row["path"], as_output=row["as_output"])


async def record_sighting(conn: Connection, path: str, size: int, fingerprint: str) -> None:
    """What the scanner last saw at ``path``: the output of a job is recognised by it after a rename."""
    await conn.execute(
        "INSERT INTO sightings (path, size, fingerprint) VALUES ($1, $2, $3)"
        " ON CONFLICT (path) DO UPDATE SET size = $2, fingerprint = $3, seen_at = now()",
        path,
        size,
        fingerprint,
    )


# The paths that start with ``stem.`` are, in byte order, those from ``stem.`` up to ``stem/`` ('/' follows
# '.'): a range the index ``jobs_active_by_path_bytes`` answers, where ``starts_with`` read every row.
SIBLING_IN_FLIGHT = (
    "SELECT true FROM jobs WHERE status IN ('pending', 'running') AND path <> $1 AND kind = 'transcode'"
    ' AND (path COLLATE "C") >= $2 AND (path COLLATE "C") < $3'
    " AND strpos(substr(path, length($2) + 1), '/') = 0 LIMIT 1"
)


def sibling_range(path: str) -> tuple[str, str] | None:
    """The range of the paths of ``path``'s siblings (same folder and name, another extension), or None
    for a path without an extension."""
    stem, dot, _ = path.rpartition(".")
    if not dot or "/" in path[len(stem) :]:
        return None
    return stem + ".", stem + "/"


async def sibling_in_flight(conn: Connection, path: str) -> bool:
    """A pending or running job for the same name with another extension (``a.avi`` for ``a.mkv``)."""
    siblings = sibling_range(path)
    if siblings is None:
        return False
    return bool(await conn.fetchval(SIBLING_IN_FLIGHT, path, *siblings))


async def insert_job(
    conn: Connection,
    *,
    path: str,
    status: str,
    identity: FileIdentity,
    probe: MediaProbe | None,
    reason: str | None = None,
    hw_class: str | None = None,
    target_codec: str = "hevc",
    fingerprint: str | None = None,
    track_plan: TrackPlan | None = None,
    library: str | None = None,
    review: bool = False,
) -> int:
    finished = status in {"done", "failed", "skipped"}
    job_id: int = await conn.fetchval(
        "INSERT INTO jobs (path, status, reason, attempts, hw_class, source_size, source_mtime_ns, source_inode,"
        " codec_before, probe, finished_at, target_codec, source_fingerprint, source_links, planned_streams,"
        " track_plan, library, benefit, review)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, CASE WHEN $11 THEN now() END, $12, $13, $14, $15,"
        " $16, $17, $18, $19) RETURNING id",
        path,
        status,
        reason,
        1 if status == "pending" else 0,
        hw_class,
        identity.size,
        identity.mtime_ns,
        identity.inode,
        probe.video_codec if probe else None,
        encode(probe).decode() if probe else None,
        finished,
        target_codec,
        fingerprint,
        identity.links,
        list(track_plan.keep) if track_plan else None,
        list(tracks.describe(probe, track_plan)) if track_plan and probe else [],
        library,
        ordering.benefit(probe, identity.size) if probe else None,
        review,
    )
    return job_id


async def insert_cleanup_job(conn: Connection, *, path: str, identity: FileIdentity, why: str) -> int | None:
    """A stale file's job, awaiting a user's approval; None if the file has one waiting or in flight."""
    job_id: int | None = await conn.fetchval(
        "INSERT INTO jobs (kind, path, status, reason, source_size, source_mtime_ns, source_inode)"
        " VALUES ('cleanup', $1, 'awaiting_approval', $2, $3, $4, $5)"
        " ON CONFLICT (kind, path) WHERE status IN ('awaiting_approval', 'pending', 'running') DO NOTHING"
        " RETURNING id",
        path,
        why,
        identity.size,
        identity.mtime_ns,
        identity.inode,
    )
    return job_id


async def notify(conn: Connection) -> None:
    """Wake the relay once the transaction commits (several calls in one transaction are one wake-up)."""
    await conn.execute("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)


async def record_changes(
    conn: Connection, job_ids: list[int], change: JobChange, node: str | None = None, *, wake: bool = True
) -> None:
    """Publish, through the outbox, what the record of each job now says: call it in the transaction that
    made the change (before the ``DELETE`` of a removed job). One row per job, event id
    ``<job>:v<version>``, no ``job_id`` (the row must outlive a removed job).

    Each change is also the job's one log line, with the node: the record's, or ``node`` where the change
    took the job off it (a retry)."""
    if not job_ids:
        return
    rows = await conn.fetch(
        f"UPDATE jobs SET version = version + 1 WHERE id = ANY($1::bigint[]) RETURNING {JOB_COLUMNS}",
        job_ids,
    )
    events = [
        JobStateChanged(event_id=f"{r['id']}:v{r['version']}", change=change, job=job_view(r)) for r in rows
    ]
    await conn.executemany(
        "INSERT INTO outbox (subject, msg_id, payload) VALUES ($1, $2, $3) ON CONFLICT (msg_id) DO NOTHING",
        [(topology.JOB_STATE_CHANGED, e.event_id, encode(e)) for e in events],
    )
    if wake:
        await notify(conn)
    for row in rows:
        _log_change(row, change, node)


def _log_change(row: Record, change: JobChange, node: str | None) -> None:
    """``job 12 done on node-a (attempt 1): /media/x.mkv``, with the reason where it is the change's."""
    where = node or row["node"]
    # A retry has already counted the next attempt; the line is about the one that failed.
    attempt = row["attempts"] - 1 if change is JobChange.RETRY_SCHEDULED else row["attempts"]
    reason = row["reason"] if change in WITH_REASON and row["reason"] else None
    log.log(
        LEVELS.get(change, logging.INFO),
        "job %d %s%s (attempt %d): %s%s%s",
        row["id"],
        change.value.replace("_", " "),
        f" on {where}" if where else "",
        attempt,
        row["path"],
        f" -> {row['output_path']}"
        if change is JobChange.DONE and row["output_path"] not in (None, row["path"])
        else "",
        f": {reason}" if reason else "",
    )


async def record_change(
    conn: Connection, job_id: int, change: JobChange, node: str | None = None, *, wake: bool = True
) -> None:
    """``record_changes`` of one job; ``wake=False`` leaves waking the relay to the caller (``notify``: once for
    a batch of changes, one round trip fewer each)."""
    await record_changes(conn, [job_id], change, node, wake=wake)


def _identity(row: Record) -> FileIdentity:
    return FileIdentity(size=row["source_size"], mtime_ns=row["source_mtime_ns"], inode=row["source_inode"])


async def enqueue(
    conn: Connection,
    job_id: int,
    delay_seconds: float = 0.0,
    hw_class: str | None = None,
    *,
    wake: bool = True,
) -> None:
    """Write the job's current attempt to the outbox (same transaction as the job's change), as the work
    message of its kind; ``hw_class`` moves a transcode to another hardware class. ``wake``: as for
    ``record_change``."""
    if hw_class is not None:
        await conn.execute(
            "UPDATE jobs SET hw_class = $2 WHERE id = $1 AND kind = 'transcode'", job_id, hw_class
        )
    row = await conn.fetchrow(
        "SELECT kind, path, attempts, hw_class, target_codec, source_size, source_mtime_ns, source_inode,"
        " probe::text AS probe, app, new_path, arr_item, arr_file, planned_streams, review, decision,"
        " waiting::text AS waiting FROM jobs WHERE id = $1",
        job_id,
    )
    assert row is not None
    message: Message
    if row["kind"] == "rename":
        message = RenameFile(
            event_id=f"{job_id}:{row['attempts']}@rename",
            job_id=job_id,
            attempt=row["attempts"],
            app=row["app"],
            path=row["path"],
            new_path=row["new_path"],
            item_id=row["arr_item"],
            file_id=row["arr_file"],
        )
        subject = topology.WORK_RENAME
    elif row["kind"] == "cleanup":
        message = RemoveStaleFile(
            event_id=f"{job_id}:{row['attempts']}@cleanup",
            job_id=job_id,
            attempt=row["attempts"],
            path=row["path"],
            identity=_identity(row),
        )
        subject = topology.WORK_CLEANUP
    else:
        message = Transcode(
            # One message per attempt and class: a move to another class is a message of its own.
            event_id=f"{job_id}:{row['attempts']}@{row['hw_class']}",
            job_id=job_id,
            attempt=row["attempts"],
            path=row["path"],
            identity=_identity(row),
            probe=msgspec.json.decode(row["probe"], type=MediaProbe),
            hw_class=row["hw_class"],
            target_codec=row["target_codec"],
            streams=None if row["planned_streams"] is None else tuple(row["planned_streams"]),
            review=row["review"],
            decision=_decision(row),
        )
        subject = topology.transcode_subject(row["hw_class"])
    await conn.execute(
        "INSERT INTO outbox (job_id, subject, msg_id, payload, not_before)"
        " VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5)) ON CONFLICT (msg_id) DO NOTHING",
        job_id,
        subject,
        message.event_id,
        encode(message),
        delay_seconds,
    )
    if wake:
        await notify(conn)


def _decision(row: Record) -> ReviewDecision | None:
    """A user's decision on the job's waiting output, which its attempt carries out; None for an encode."""
    if row["decision"] is None or row["waiting"] is None:
        return None
    waiting = msgspec.json.decode(row["waiting"], type=WaitingOutput)
    return ReviewDecision(accept=row["decision"] == "accept", output=waiting)
