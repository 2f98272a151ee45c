"""The scheduler keeping work moving when the world misbehaves: a hardware class whose nodes went away, a
work message the stream lost, and the per-status counts that the queue page reads (real NATS and PostgreSQL)."""

from __future__ import annotations

import asyncio

import asyncpg
from librarrarian_contracts import Transcode, encode, publish, topology
from librarrarian_contracts.codec import work_decoder
from librarrarian_contracts.views import NodeStatus
from librarrarian_runtime.migrations import connect_and_migrate
from librarrarian_scheduler import service
from librarrarian_scheduler.reconcile import Reconciler
from librarrarian_scheduler.settings import Settings
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from .scheduler_client import probed, pull_work


async def test_waiting_work_moves_off_a_class_without_live_nodes(
    bus: tuple[Client, JetStreamContext], nats_url: str, database_url: str
) -> None:
    """An NVENC node takes the queue's work, then goes away: after ORPHAN_SECONDS its waiting jobs move to
    the class that has live nodes (the CPU), same attempt, and nothing is left behind on NVENC."""
    nc, js = bus
    nodes = await js.key_value(topology.NODES.name)

    async def node_up(name: str, hw: str) -> None:
        status = NodeStatus(
            node=name,
            hostname=name,
            version="1",
            classes=(hw,),
            slots=1,
            state="running",
            codecs={hw: ("hevc",)},
        )
        await nodes.put(name, encode(status))

    await node_up("gpu", "nvenc")
    dispatched: list[tuple[str, Transcode]] = []

    async def on_work(msg: Msg) -> None:
        dispatched.append((msg.subject, work_decoder.decode(msg.data)))

    await nc.subscribe("work.transcode.>", cb=on_work)
    settings = Settings(nats_url=nats_url, database_url=database_url, orphan_seconds=2)
    stopping = asyncio.Event()
    task = asyncio.create_task(service.run(settings, stopping))
    try:
        await publish(js, probed("/m/a.mp4"))
        await eventually(lambda: dispatched, timeout=30, message="dispatched")
        assert dispatched[0][0] == topology.transcode_subject("nvenc")

        await nodes.delete("gpu")  # the GPU box is switched off; a CPU node is there
        await node_up("cpu-box", "cpu")
        await eventually(lambda: len(dispatched) == 2, timeout=30, message="moved")
        subject, moved = dispatched[1]
        assert subject == topology.transcode_subject("cpu")
        assert (moved.job_id, moved.attempt, moved.hw_class) == (dispatched[0][1].job_id, 1, "cpu")
        info = await js.consumer_info(topology.WORK.name, topology.encoder_durable("nvenc"))
        assert info.num_pending == 0 and info.num_ack_pending == 0
        assert (await pull_work(js, 1))[0].job_id == moved.job_id
    finally:
        stopping.set()
        await asyncio.wait_for(task, 20)


async def test_work_the_stream_lost_is_published_again(
    bus: tuple[Client, JetStreamContext], nats_url: str, database_url: str
) -> None:
    """JetStream forgets a message (a crash before its lazy fsync): the job, still waiting after the grace
    period with nobody having started it, gets its work published again; a message still waiting does not."""
    nc, js = bus
    dispatched: list[tuple[int, Transcode]] = []

    async def on_work(msg: Msg) -> None:
        dispatched.append((0, work_decoder.decode(msg.data)))

    await nc.subscribe("work.transcode.>", cb=on_work)
    settings = Settings(nats_url=nats_url, database_url=database_url, reconcile_grace_seconds=1)
    stopping = asyncio.Event()
    task = asyncio.create_task(service.run(settings, stopping))
    try:
        await publish(js, probed("/m/kept.mp4"))
        await publish(js, probed("/m/lost.mp4"))
        await eventually(lambda: len(dispatched) == 2, timeout=30, message="both dispatched")
        info = await js.stream_info(topology.WORK.name)
        lost = next(r for _, r in dispatched if r.path == "/m/lost.mp4")
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            message = await js.get_msg(topology.WORK.name, seq)
            if work_decoder.decode(message.data or b"").path == "/m/lost.mp4":
                await js.delete_msg(topology.WORK.name, seq)  # what a server crash would have done
        await eventually(lambda: len(dispatched) == 3, timeout=30, message="published again")
        assert dispatched[2][1].job_id == lost.job_id and dispatched[2][1].attempt == 1
        # The kept one is still in the stream: another pass, made now, publishes nothing.
        pool = await connect_and_migrate(database_url, "scheduler", "librarrarian_scheduler.migrations")
        try:
            assert await Reconciler(pool, js, grace_seconds=1).pass_once() == 0
        finally:
            await pool.close()
        assert len(dispatched) == 3
        waiting = [r.path for r in await pull_work(js, 2)]
        assert sorted(waiting) == ["/m/kept.mp4", "/m/lost.mp4"]
    finally:
        stopping.set()
        await asyncio.wait_for(task, 20)


async def test_after_a_restore_a_sequence_now_holding_another_message_is_not_taken_for_the_job(
    bus: tuple[Client, JetStreamContext], nats_url: str, database_url: str
) -> None:
    """A restore brings back records whose outbox rows name stream sequences of another time: the stream
    went on (or started over) while the backup stood still, so a waiting job's sequence may now hold another
    job's message. The reconciler knows a message by its id: the job whose own message is gone is sent
    again, the one whose message is there is not."""
    nc, js = bus
    dispatched: list[Transcode] = []

    async def on_work(msg: Msg) -> None:
        dispatched.append(work_decoder.decode(msg.data))

    await nc.subscribe("work.transcode.>", cb=on_work)
    # The service's own reconciler stays out of the way: the test makes its passes itself.
    settings = Settings(nats_url=nats_url, database_url=database_url, reconcile_grace_seconds=3600)
    stopping = asyncio.Event()
    task = asyncio.create_task(service.run(settings, stopping))
    pool = await connect_and_migrate(database_url, "scheduler", "librarrarian_scheduler.migrations")
    try:
        await publish(js, probed("/m/restored.mp4"))
        await eventually(lambda: len(dispatched) == 1, timeout=30, message="first dispatched")
        await publish(js, probed("/m/newer.mp4"))
        await eventually(lambda: len(dispatched) == 2, timeout=30, message="second dispatched")
        restored, newer = dispatched

        async def recorded() -> dict[int, int] | None:
            rows = await pool.fetch("SELECT job_id, stream_seq FROM outbox WHERE job_id IS NOT NULL")
            seqs = {r["job_id"]: r["stream_seq"] for r in rows if r["stream_seq"] is not None}
            return seqs if {restored.job_id, newer.job_id} <= seqs.keys() else None

        # The relay records a message's sequence once its publish is acknowledged, a moment after the
        # message is seen: wait for both.
        seqs = await eventually(recorded, message="both sequences recorded")
        # What the restore leaves: the restored job's message is not in the stream, and its row names the
        # sequence the newer job's message holds now.
        await js.delete_msg(topology.WORK.name, seqs[restored.job_id])
        await pool.execute(
            "UPDATE outbox SET stream_seq = $2 WHERE job_id = $1", restored.job_id, seqs[newer.job_id]
        )
        reconciler = Reconciler(pool, js, grace_seconds=0)
        assert await reconciler.pass_once() == 1
        await eventually(lambda: len(dispatched) == 3, timeout=30, message="sent again")
        assert (dispatched[2].job_id, dispatched[2].attempt) == (restored.job_id, 1)
        # Both messages are where their rows say now: another pass sends nothing.
        await eventually(
            lambda: _all_sent(pool), timeout=30, message="the new row marked sent with its sequence"
        )
        assert await reconciler.pass_once() == 0
        waiting = sorted(w.path for w in await pull_work(js, 2))
        assert waiting == ["/m/newer.mp4", "/m/restored.mp4"]
    finally:
        await pool.close()
        stopping.set()
        await asyncio.wait_for(task, 20)


async def _all_sent(pool: asyncpg.Pool) -> bool:
    return not await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")


async def test_the_counts_per_status_follow_every_change(database_url: str) -> None:
    """The trigger-kept counts the queue page shows equal a real count after inserts, moves both ways
    between statuses, no-op updates and deletes, also from concurrent transactions."""
    pool = await connect_and_migrate(database_url, "scheduler", "librarrarian_scheduler.migrations")
    try:
        await pool.execute(
            "INSERT INTO jobs (path, status) SELECT '/m/' || g, 'pending' FROM generate_series(1, 60) g"
        )
        moves = [
            "UPDATE jobs SET status = 'running' WHERE id % 3 = 0",
            "UPDATE jobs SET status = 'failed' WHERE id % 6 = 0",
            "UPDATE jobs SET status = 'pending' WHERE id % 12 = 0",  # failed -> pending (a retry)
            "UPDATE jobs SET status = 'done' WHERE status = 'running'",
            "UPDATE jobs SET status = status, reason = 'x'",
            "DELETE FROM jobs WHERE id % 5 = 0",
        ]
        await asyncio.gather(*(pool.execute(sql) for sql in moves[:3]))
        for sql in moves[3:]:
            await pool.execute(sql)
        real = {
            r["status"]: r["n"]
            for r in await pool.fetch("SELECT status, count(*) AS n FROM jobs GROUP BY status")
        }
        kept = {
            r["status"]: r["n"] for r in await pool.fetch("SELECT status, n FROM job_counts WHERE n <> 0")
        }
        assert kept == real and sum(real.values()) == 48
    finally:
        await pool.close()
