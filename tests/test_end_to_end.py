"""The whole cluster on one machine, as a user runs it: `librarrarian up` on a mixed library.

Checks every outcome (transcoded with all streams, skipped, failed with its reason), that clutter and the
originals of failed or skipped files are untouched, that the dashboard and API show it, that Ctrl-C leaves no
process behind, and that a second `up` on the same data directory finds everything again.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import av
import httpx
import nats
import pytest
from librarrarian_contracts import topology
from librarrarian_contracts.permissions import PROVISIONER
from librarrarian_embedded.nats_server import free_port
from librarrarian_runtime.bus import inbox_of
from librarrarian_testing import eventually, library

from librarrarian import secrets_file

pytestmark = pytest.mark.e2e

FINAL = {"done", "failed", "skipped"}


def processes_with(marker: str, data_dir: Path) -> list[str]:
    """Processes that carry the test's marker in their environment or the data directory in their argv."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and (marker.encode() in environ or str(data_dir) in cmdline):
            found.append(f"{entry.name}: {cmdline[:200]}")
    return found


def service_pid(marker: str, module: str) -> int:
    """The pid of the service process running ``module`` in the test's cluster."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if module.encode() in cmdline and marker.encode() in environ:
            return int(entry.name)
    return -1


def service_environ(marker: str, module: str) -> dict[str, str]:
    """The environment of the service process running ``module`` in the test's cluster."""
    raw = (Path("/proc") / str(service_pid(marker, module)) / "environ").read_bytes()
    return dict(item.decode().partition("=")[::2] for item in raw.split(b"\0") if item)


NODE = "e2e-node"
QUICK = {"x265": {tier: {"level": 28, "preset": "ultrafast"} for tier in ("sd", "720p", "1080p", "4k")}}


async def start_with_quick_settings(api: httpx.AsyncClient) -> None:
    """Through the API, like a user: the fastest x265 preset, then start the node (AUTOSTART is off)."""

    async def patched() -> bool:
        try:
            response = await api.patch("/api/v1/settings/transcode", json={"quality": QUICK})
        except httpx.TransportError:
            return False  # the gateway is not listening yet
        return response.status_code == 200

    await eventually(patched, timeout=60, message="settings changed")
    assert (await api.post(f"/api/v1/nodes/{NODE}/start")).status_code == 200


class Cluster:
    def __init__(self, media: Path, data_dir: Path, log: Path) -> None:
        self.media, self.data_dir, self.log_path = media, data_dir, log
        self.port = free_port()
        self.marker = uuid.uuid4().hex
        self.process: subprocess.Popen[bytes] | None = None
        self.clients: list[httpx.AsyncClient] = []

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in {"NATS_URL", "DATABASE_URL"}}
        # The node waits to be started: the test sets quick settings first, as a user would set theirs.
        env.update(
            {
                "LIBRARRARIAN_E2E_MARKER": self.marker,
                "LOG_LEVEL": "INFO",
                "NODE_NAME": NODE,
                "AUTOSTART": "false",
            }
        )
        argv = [
            sys.executable,
            "-m",
            "librarrarian",
            "up",
            "--media",
            str(self.media),
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(argv, env=env, stdout=log, stderr=log, start_new_session=True)

    @property
    def credentials(self) -> dict[str, str]:
        return json.loads((self.data_dir / "credentials.json").read_text())

    def client(self, api_key: bool = True) -> httpx.AsyncClient:
        headers = {"X-Api-Key": self.credentials["api_key"]} if api_key else {}
        client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", headers=headers, timeout=10)
        self.clients.append(client)
        return client

    def nats_url(self) -> str:
        """As the provision user: it may look at the streams and durables (and change nothing else)."""
        port = re.search(r"listen: 127.0.0.1:(\d+)", (self.data_dir / "nats" / "nats.conf").read_text())
        assert port
        password = self.credentials[secrets_file.nats_key(PROVISIONER)]
        return f"nats://{PROVISIONER}:{password}@127.0.0.1:{port.group(1)}"

    def refusals(self) -> list[str]:
        """What the NATS server refused a service: each logs in as its role, and must need nothing more."""
        log = self.data_dir / "nats" / "nats.log"
        return [line for line in log.read_text(errors="replace").splitlines() if "Violation" in line]

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)  # what Ctrl-C does
        return self.process.wait(timeout=90)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
async def cluster(tmp_path: Path, shared_media: Path) -> AsyncIterator[tuple[Cluster, library.Library]]:
    lib = library.build(tmp_path / "media", shared_media)
    cluster = Cluster(tmp_path / "media", tmp_path / "data", tmp_path / "up.log")
    try:
        yield cluster, lib
    finally:
        for client in cluster.clients:
            await client.aclose()
        if cluster.process and cluster.process.poll() is None:
            os.killpg(cluster.process.pid, signal.SIGKILL)
            cluster.process.wait()
        leftovers = processes_with(cluster.marker, cluster.data_dir)
        for line in leftovers:
            os.kill(int(line.split(":")[0]), signal.SIGKILL)


async def jobs(client: httpx.AsyncClient) -> list[dict[str, object]]:
    try:
        response = await client.get("/api/v1/jobs", params={"limit": 100})
    except httpx.TransportError:
        return []  # the gateway is not listening yet
    if response.status_code != 200:
        return []
    items: list[dict[str, object]] = response.json()["items"]
    return items


def streams(path: Path) -> dict[str, object]:
    with av.open(str(path)) as container:
        kinds = [s.type for s in container.streams]
        video = container.streams.video[0]
        return {
            "video_codec": video.codec_context.name,
            "audio": kinds.count("audio"),
            "subtitle": kinds.count("subtitle"),
            "attachment": kinds.count("attachment"),
            "chapters": len(container.chapters()),
            "duration": (container.duration or 0) / 1_000_000,
        }


async def scans_and_backlog(url: str) -> tuple[int, int]:
    """(scans completed so far, media events the scheduler has not yet finished with)."""
    nc = await nats.connect(url, inbox_prefix=inbox_of(url))
    try:
        js = nc.jetstream()
        info = await js.stream_info(topology.MEDIA.name, subjects_filter=topology.MEDIA_SCAN_COMPLETED)
        scans = int((info.state.subjects or {}).get(topology.MEDIA_SCAN_COMPLETED, 0))
        consumer = await js.consumer_info(topology.MEDIA.name, topology.SCHEDULER_MEDIA.durable)
        return scans, int(consumer.num_pending or 0) + int(consumer.num_ack_pending or 0)
    finally:
        await nc.close()


async def test_the_whole_cluster_on_a_mixed_library(cluster: tuple[Cluster, library.Library]) -> None:
    up, lib = cluster
    up.start()
    await eventually(lambda: (up.data_dir / "credentials.json").exists(), timeout=30, message="credentials")
    api = up.client()
    await start_with_quick_settings(api)

    # Every file reaches a final state: 3 transcoded, 1 skipped, 1 failed, no job for the clutter.
    async def settled() -> list[dict[str, object]] | None:
        assert up.process is not None and up.process.poll() is None, f"up exited:\n{up.log()[-4000:]}"
        items = await jobs(api)
        return items if len(items) >= 5 and all(j["status"] in FINAL for j in items) else None

    try:
        items = await eventually(settled, timeout=240, interval=0.5, message="all jobs final")
    except AssertionError:
        print(up.log()[-6000:])
        raise
    by_path = {Path(str(j["path"])).name: j for j in items}
    assert len(items) == 5, sorted(by_path)
    assert {name: j["status"] for name, j in by_path.items()} == {
        "Big Buck Bunny.mp4": "done",
        "Bikes S01E01.mkv": "done",
        "Bikes S01E02.avi": "done",
        "Already HEVC.mkv": "skipped",
        "Broken.mp4": "failed",
    }
    broken = by_path["Broken.mp4"]
    assert broken["reason"] and "Traceback" not in str(broken["reason"])
    assert "hevc" in str(by_path["Already HEVC.mkv"]["reason"]).lower()

    # The transcoded files are HEVC and kept every stream.
    mp4 = streams(lib.transcode["mp4"])
    assert mp4["video_codec"] == "hevc" and mp4["audio"] == 1
    assert abs(float(mp4["duration"]) - 5.3) < 0.6  # type: ignore[arg-type]
    mkv = streams(lib.transcode["mkv"])
    assert mkv == {**mkv, "video_codec": "hevc", "audio": 2, "subtitle": 1, "attachment": 1, "chapters": 2}
    avi = lib.transcode["avi"]
    assert not avi.exists(), "the AVI original should be replaced by its MKV output"
    assert streams(avi.with_suffix(".mkv"))["video_codec"] == "hevc"
    assert by_path["Bikes S01E02.avi"]["output_path"] == str(avi.with_suffix(".mkv"))

    # Skipped, failed and clutter files are byte-identical; no temporary file is left behind.
    for path, digest in lib.checksums.items():
        assert path.exists() and library.sha256(path) == digest, path
    leftovers = [p for p in lib.root.rglob(".tmp_librarrarian*")]
    assert leftovers == []

    # The API and the dashboard show it; the terminal showed where.
    assert f"Librarrarian is running: http://localhost:{up.port}/" in up.log()
    history = (await api.get("/api/v1/history")).json()["items"]
    assert sorted(Path(h["path"]).name for h in history if h["status"] == "done") == [
        "Big Buck Bunny.mp4",
        "Bikes S01E01.mkv",
        "Bikes S01E02.avi",
    ]
    assert all(h["size_after"] > 0 and h["size_before"] > 0 for h in history if h["status"] == "done")
    stats = (await api.get("/api/v1/stats")).json()
    assert stats["files_encoded"] == 3
    nodes = (await api.get("/api/v1/nodes")).json()
    assert len(nodes) == 1 and "cpu" in nodes[0]["classes"]
    assert (await api.get("/healthz")).status_code == 200
    browser = up.client(api_key=False)
    assert (await browser.get("/api/v1/jobs")).status_code == 401
    login = await browser.post(
        "/login",
        data={"username": up.credentials["admin_user"], "password": up.credentials["admin_password"]},
    )
    assert login.status_code in {200, 303}
    for page, expected in (("/", "Big Buck Bunny"), ("/queue", "Broken.mp4"), ("/history", "Bikes S01E01")):
        response = await browser.get(page)
        assert response.status_code == 200 and expected in response.text, page
    secrets = up.credentials
    assert all(value not in up.log() for key, value in secrets.items() if key != "admin_user")
    assert (up.data_dir / "credentials.json").stat().st_mode & 0o777 == 0o600
    assert up.refusals() == []
    # Each service logs in as its own role; encoder and cleanup keep nothing and get no database.
    for module in ("scanner", "scheduler", "encoder", "history", "gateway", "cleanup"):
        environ = service_environ(up.marker, f"librarrarian_{module}")
        assert urlsplit(environ["NATS_URL"]).username == module
        database = environ.get("DATABASE_URL")
        if module in {"encoder", "cleanup"}:
            assert database is None, module
        else:
            assert database is not None and urlsplit(database).username == f"librarrarian_{module}"

    # A service that crashes is restarted, and answers again.
    history_pid = service_pid(up.marker, "librarrarian_history")
    os.kill(history_pid, signal.SIGKILL)
    await eventually(lambda: "history exited with -9; restarting" in up.log(), timeout=10)

    async def history_back() -> bool:
        restarted = service_pid(up.marker, "librarrarian_history")
        return restarted != history_pid and (await api.get("/api/v1/history")).status_code == 200

    await eventually(history_back, timeout=30, interval=0.5, message="history restarted")

    scans_before, _ = await scans_and_backlog(up.nats_url())
    assert scans_before >= 1

    # Ctrl-C stops everything and leaves no process behind.
    assert up.stop() == 0, up.log()[-4000:]
    await eventually(
        lambda: not processes_with(up.marker, up.data_dir), timeout=30, message="no process left"
    )

    # A second `up` on the same data directory finds all state again and queues nothing new.
    up.start()
    api = up.client()

    async def five_jobs() -> bool:
        return len(await jobs(api)) == 5

    await eventually(
        lambda: up.log().count("Librarrarian is running") == 2, timeout=60, message="second banner"
    )
    await eventually(five_jobs, timeout=120, interval=0.5, message="jobs found again")
    url = up.nats_url()

    async def rescanned() -> bool:
        scans, backlog = await scans_and_backlog(url)
        return scans > scans_before and backlog == 0

    await eventually(rescanned, timeout=120, interval=0.5, message="second scan completed and consumed")
    assert sorted((Path(str(j["path"])).name, j["status"]) for j in await jobs(api)) == sorted(
        (name, j["status"]) for name, j in by_path.items()
    )
    assert up.refusals() == []
    assert up.stop() == 0
    await eventually(
        lambda: not processes_with(up.marker, up.data_dir), timeout=30, message="no process left"
    )
