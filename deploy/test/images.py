"""Building every image of the compose file with podman, on the test's base: the services' from
``deploy/Dockerfile`` with the build arguments the compose file gives them, NATS and PostgreSQL from this
folder's ``images/`` (stand-ins for the official images the compose file names, which cannot be pulled here)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import podman
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yaml"
HERE = Path(__file__).resolve().parent
# The stand-ins, and the variables that make the compose file use them.
SERVERS = {"nats": "NATS_IMAGE", "postgres": "POSTGRES_IMAGE"}


@dataclass(frozen=True)
class Image:
    name: str
    dockerfile: Path
    args: dict[str, str]


def stand_in(server: str) -> str:
    return f"localhost/librarrarian-test-{server}:latest"


def wanted(base: str) -> list[Image]:
    """Every image the stack runs: the stand-ins first (the services' builds then find the base warm)."""
    images = [Image(stand_in(s), HERE / "images" / s / "Dockerfile", {"BASE": base}) for s in SERVERS]
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for service in services.values():
        build = service.get("build")
        if not build:
            continue
        args = {k: str(v) for k, v in (build.get("args") or {}).items() if k != "BASE"}
        images.append(Image(service["image"], ROOT / build["dockerfile"], {**args, "BASE": base}))
    return images


def build(image: Image) -> float:
    """Build one image from the repository root; the seconds it took."""
    started = time.monotonic()
    arguments = [f"--build-arg={key}={value}" for key, value in sorted(image.args.items())]
    podman.run("build", "--quiet", "--format=docker", "--file", str(image.dockerfile), *arguments,
               "--tag", image.name, str(ROOT))  # fmt: skip
    return time.monotonic() - started


def build_all(base: str) -> dict[str, float]:
    return {image.name: build(image) for image in wanted(base)}


def sizes(names: list[str]) -> dict[str, int]:
    return {name: podman.image_size(name) for name in names}
