"""The compose stack as a user runs it: the README's container lines, word for word, in a copy of the
repository (so the user's own ``deploy/.env`` is never touched), with ``podman-compose`` for ``docker compose``
and the test's library for ``/srv/media``; then the few settings a user of this machine would change in the
``.env`` they made (free ports, the local images), and the checks that nothing is left running after ``down``."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import podman

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BLOCK = re.compile(r"<!-- containers:begin.*?```sh\n(?P<lines>.*?)```", re.S)
PROJECT = "librarrarian"
SERVERS = ("nats", "postgres")
# What runs inside the stack's containers, as the host's process table shows it.
CONTAINER_PROCESSES = ("/app/.venv/bin/", "nats-server", "/opt/pg/pgserver/")


def readme_lines() -> list[list[str]]:
    """The README's container commands, as argv lists (comments dropped)."""
    match = BLOCK.search(README.read_text())
    if not match:
        raise SystemExit("README.md has no containers block")
    return [shlex.split(line, comments=True) for line in match["lines"].splitlines() if line.strip()]


def adapted(argv: list[str], media: Path) -> list[str]:
    """One README command as this test runs it."""
    if argv[:2] == ["docker", "compose"]:
        argv = [*podman.compose_argv(), *argv[2:]]
    elif argv[0] == "python3":
        argv = [sys.executable, *argv[1:]]
    return [str(media) if word == "/srv/media" else word for word in argv]


def copy_repository(target: Path) -> Path:
    """The repository's files as they are now (tracked and new, not ignored) in ``target``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def set_env(env_file: Path, values: dict[str, str]) -> None:
    """Change (or add) settings in a ``.env``, keeping everything else as written."""
    lines = env_file.read_text().splitlines()
    for name, value in values.items():
        lines = [line for line in lines if not line.startswith(f"{name}=")] + [f"{name}={value}"]
    env_file.write_text("\n".join(lines) + "\n")


def env_value(env_file: Path, name: str) -> str:
    for line in env_file.read_text().splitlines():
        if line.startswith(f"{name}="):
            return line.partition("=")[2]
    raise KeyError(name)


def run(argv: list[str], cwd: Path) -> None:
    print("+", shlex.join(argv), flush=True)
    subprocess.run(argv, cwd=cwd, check=True, stdout=sys.stdout, stderr=subprocess.STDOUT)


def containers() -> list[dict[str, str]]:
    """The stack's containers (running or not): name, id, state."""
    filters = ["--filter", f"label=io.podman.compose.project={PROJECT}"]
    listed = json.loads(podman.output("ps", "--all", *filters, "--format", "json") or "[]")
    return [{"name": c["Names"][0], "id": c["Id"], "state": c["State"]} for c in listed]


def healthy(name: str) -> bool:
    """Run the container's own health check now (podman schedules them through systemd, absent here)."""
    return podman.run("healthcheck", "run", name, check=False, quiet=True).returncode == 0


def wait_healthy(timeout: float) -> dict[str, float]:
    """Every running container of the stack healthy (provision has exited by then); seconds to each."""
    started = time.monotonic()
    seen: dict[str, float] = {}
    while time.monotonic() - started < timeout:
        running = [c["name"] for c in containers() if c["state"] == "running"]
        for name in running:
            if name not in seen and healthy(name):
                seen[name] = round(time.monotonic() - started, 1)
        if running and all(name in seen for name in running):
            return seen
        time.sleep(2)
    late = sorted({c["name"] for c in containers()} - set(seen))
    raise SystemExit(f"not healthy after {timeout:.0f} s: {late}")


def is_server(container: str) -> bool:
    return any(container.startswith(f"{PROJECT}_{server}_") for server in SERVERS)


def stop_each(timeout: int) -> dict[str, float]:
    """Stop every running container of the stack with its STOPSIGNAL (SIGTERM; PostgreSQL's SIGINT), one by
    one; the seconds each took. A service that does not exit by itself with status 0 fails the test."""
    took, problems = {}, []
    running = [c for c in containers() if c["state"] == "running"]
    # The services first, then the servers they use (what `down` does too).
    running.sort(key=lambda c: is_server(c["name"]))
    for container in running:
        name = container["name"]
        started = time.monotonic()
        podman.run("stop", "--time", str(timeout), name, quiet=True)
        took[name] = round(time.monotonic() - started, 1)
        code = int(podman.output("inspect", "--format", "{{.State.ExitCode}}", name))
        # Our services handle SIGTERM and exit 0; a server may also end by the signal itself (143, not the
        # kill at the timeout: 137).
        if code != 0 and not (is_server(name) and code == 143):
            problems.append(f"{name}: exit code {code} after {took[name]} s")
    if problems:
        raise SystemExit("not a graceful stop: " + "; ".join(problems))
    return took


def leftovers(ids: set[str]) -> list[str]:
    """What still runs of the stack: containers, its network, and processes of its containers or their
    monitors (conmon names the container's id)."""
    found = [f"container {c['name']}" for c in containers()]
    networks = podman.output("network", "ls", "--format", "{{.Name}}").split()
    found += [f"network {n}" for n in networks if n.startswith(f"{PROJECT}_")]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(marker in cmdline for marker in CONTAINER_PROCESSES) and _in_container(entry):
            found.append(f"process {entry.name}: {cmdline[:120]}")
        elif "conmon" in cmdline and any(short in cmdline for short in ids):
            found.append(f"monitor {entry.name}: {cmdline[:120]}")
    return found


def _in_container(entry: Path) -> bool:
    """A process in a container (libpod's cgroup), not this machine's own NATS or PostgreSQL."""
    try:
        return "libpod" in (entry / "cgroup").read_text()
    except OSError:
        return False


def remove_volumes() -> None:
    names = podman.output("volume", "ls", "--filter", f"label=io.podman.compose.project={PROJECT}",
                          "--format", "{{.Name}}").split()  # fmt: skip
    if names:
        podman.run("volume", "rm", "--force", *names, check=False, quiet=True)
