"""Running podman (and podman-compose) the way this machine allows: as root, with ``runc`` and resource limits
a container may keep, from a containers.conf of the test's own (``CONTAINERS_CONF``), so the machine's
configuration is left alone. Every call is an argv list."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

# crun fails on this kernel's mixed cgroups; containers may not raise rlimits above these.
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:4096", "nproc=1000:2000"]

[engine]
runtime = "runc"
"""


def configure(work: Path) -> None:
    """Point podman, and podman-compose's podman, at the test's containers.conf."""
    conf = work / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    os.environ["CONTAINERS_CONF"] = str(conf)
    # Images in Docker's format: the OCI format has no HEALTHCHECK, and would drop the images' own.
    os.environ["BUILDAH_FORMAT"] = "docker"


def run(*args: str, check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess[str]:
    """``podman ARGS``; its output goes to ours unless ``quiet`` (then it is captured and returned)."""
    argv = ["podman", *args]
    if quiet:
        return subprocess.run(argv, check=check, text=True, capture_output=True)
    print("+", " ".join(argv), flush=True)
    return subprocess.run(argv, check=check, text=True)


def output(*args: str) -> str:
    return run(*args, quiet=True).stdout.strip()


def image_exists(name: str) -> bool:
    return run("image", "exists", name, check=False, quiet=True).returncode == 0


def image_size(name: str) -> int:
    return int(output("image", "inspect", "--format", "{{.Size}}", name))


def compose_argv() -> list[str]:
    """podman-compose from the project's environment (a dev dependency), else from PATH; on podman 4.3
    through ``podman-4.3`` (see there)."""
    beside = Path(sys.executable).with_name("podman-compose")
    found = str(beside) if beside.exists() else shutil.which("podman-compose")
    if not found:
        raise SystemExit("podman-compose is missing: run make setup")
    if output("--version").startswith("podman version 4.3."):
        return [found, "--podman-path", str(Path(__file__).with_name("podman-4.3"))]
    return [found]
