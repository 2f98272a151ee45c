"""Follow a Librarrarian cluster from outside: print one line per change of a job's record and per
finished transcode. Plain nats-py and JSON, nothing of Librarrarian's needed.

    NATS_URL=nats://integration:PASSWORD@your-server:4222 python follow_jobs.py
"""

import asyncio
import json
import os

import nats


async def main() -> None:
    nc = await nats.connect(os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))

    async def on_change(msg: nats.aio.msg.Msg) -> None:
        event = json.loads(msg.data)
        job = event["job"]
        print(f"job {job['id']} {event['change']}: {job['status']} {job['path']}", flush=True)

    async def on_completed(msg: nats.aio.msg.Msg) -> None:
        done = json.loads(msg.data)
        saved = done["size_before"] - done["size_after"]
        print(f"job {done['job_id']} saved {saved} bytes on {done['node']}", flush=True)

    await nc.subscribe("queue.job_state_changed", cb=on_change)
    await nc.subscribe("job.completed", cb=on_completed)
    print("listening", flush=True)
    try:
        await asyncio.Event().wait()  # until Ctrl-C
    finally:
        await nc.drain()


if __name__ == "__main__":
    asyncio.run(main())
