"""The arr process: answers the gateway's set-up, test and webhook requests; runs the app scans asked for
(``scan.start_arr``, cancelled by ``scan.cancel.<id>``) and, for apps in automatic mode, on its interval; runs
approved renames (``work.rename``); and has the owning app rescan a file after its transcode (``job.completed``).
"""

from __future__ import annotations

import asyncio
import logging

import msgspec
from librarrarian_contracts import CancelScan, StartArrScan, require, topology
from librarrarian_contracts.catalog import Role
from librarrarian_contracts.codec import arr_command_decoder, job_decoder, rename_work_decoder, scan_decoder
from librarrarian_contracts.enums import ScanTrigger
from librarrarian_runtime import bus, consumer, lifecycle, migrations, outbound
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from .connections import Connections
from .endpoints import ArrEndpoints
from .followup import FollowUps
from .renamer import Renamer
from .scans import Scans
from .settings import Settings
from .store import Store
from .webhooks import Webhooks

log = logging.getLogger(__name__)


async def run(settings: Settings, stopping: asyncio.Event | None = None) -> None:
    stopping = stopping or lifecycle.stop_event()
    async with bus.connection(settings.nats_url, "arr", stopping) as nc:
        js = nc.jetstream()
        await require(js, Role.ARR)
        pool = await migrations.connect_and_migrate(
            settings.database_url, "arr", "librarrarian_arr.migrations"
        )
        verified = outbound.client(settings.private_servers, settings.timeout_seconds)
        unverified = outbound.client(settings.private_servers, settings.timeout_seconds, verify=False)
        try:
            connections = Connections(
                Store(pool), verified, unverified, settings.ssl_verify, settings.media_paths
            )
            await _serve(settings, stopping, nc, connections)
        finally:
            await verified.aclose()
            await unverified.aclose()
            await pool.close()
    log.info("arr stopped")


async def _serve(settings: Settings, stopping: asyncio.Event, nc: Client, connections: Connections) -> None:
    js = nc.jetstream()
    scans = Scans(connections, js)
    endpoints = ArrEndpoints(connections, Webhooks(connections, js), settings.private_servers)
    answering = await endpoints.start(nc)
    cancels = await _follow_cancels(nc, scans)
    renamer = Renamer(nc, connections, settings.node, settings.command_timeout_seconds)
    follow_ups = FollowUps(
        connections, js, settings.command_timeout_seconds, settings.retry_seconds, settings.max_retry_seconds
    )

    async def on_command(command: StartArrScan | CancelScan, msg: Msg) -> None:
        if isinstance(command, StartArrScan):
            await _scan_while_holding(scans, command, msg)

    async def scheduled() -> None:
        for app, app_settings, _ in await connections.enabled():
            if app_settings.mode == "automatic":
                for kind in ("rename", "quality"):
                    await scans.run(StartArrScan(app=app, kind=kind), ScanTrigger.SCHEDULE)

    log.info("arr ready: %s", ", ".join(map(str, settings.media_paths)))
    try:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(
                consumer.consume_messages(js, topology.ARR_CONTROL, arr_command_decoder, on_command, stopping)
            )
            tasks.create_task(
                consumer.consume_messages(
                    js, topology.ARR_WORK, rename_work_decoder, renamer.handle, stopping
                )
            )
            tasks.create_task(
                consumer.consume(js, topology.ARR_JOBS, job_decoder, follow_ups.handle, stopping)
            )
            tasks.create_task(follow_ups.run(stopping))
            tasks.create_task(
                lifecycle.periodically(
                    stopping, settings.scan_interval_seconds, scheduled, what="scheduled Arr scans"
                )
            )
    finally:
        await cancels.unsubscribe()
        await answering.stop()


async def _follow_cancels(nc: Client, scans: Scans) -> Subscription:
    """Every ``scan.cancel.<id>``: stop the app scan if it runs here (a library scan's is the scanner's)."""

    async def on_cancel(msg: Msg) -> None:
        try:
            command = scan_decoder.decode(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            log.error("dropping an undecodable message on %s: %s", msg.subject, error)
            return
        if isinstance(command, CancelScan):
            scans.cancel(command.scan_id)

    return await nc.subscribe(topology.scan_cancel_subject("*"), cb=on_cancel)


async def _scan_while_holding(scans: Scans, command: StartArrScan, msg: Msg) -> None:
    """Run the scan, telling JetStream every while that its command is still being worked on."""
    scan = asyncio.create_task(scans.run(command))
    try:
        while True:
            done, _ = await asyncio.wait({scan}, timeout=topology.ARR_CONTROL.ack_wait_seconds / 3)
            if done:
                break
            await msg.in_progress()
    finally:
        if not scan.done():
            scan.cancel()
            await asyncio.wait({scan})
    scan.result()
