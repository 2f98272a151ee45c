"""``make deploy-test``: the container deployment end to end with podman.

Makes (or reuses) the base image, builds every image, then follows the README's container lines on a
temporary library of real clips: the stack comes up and every container becomes healthy, every file ends as
promised (checked through the API and on disk), the encoders scale and each is its own node on the dashboard,
and ``down`` leaves nothing running. Build times and image sizes go to ``bench/out/deploy.json``.

    python deploy/test/run.py [--cold] [--images-only] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import base
import cluster_api
import images
import podman
import stack
import verify
from librarrarian_testing import library

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out" / "deploy.json"
SHARED_MEDIA = Path(os.environ.get("LIBRARRARIAN_SHARED_MEDIA", ROOT.parent / "shared" / "media"))
STOP_TIMEOUT = 30  # seconds before podman kills: the encoder's grace is 60 s, an idle one needs none
SERVICE_UID = 1000  # the images' user: the library must be theirs to write, as on a user's machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("", 0))
        return int(probe.getsockname()[1])


def forget_images() -> None:
    """A cold build: the base, every image and their layers gone (dangling layers only, nothing else)."""
    names = [base.NAME, *(image.name for image in images.wanted(base.NAME))]
    present = [name for name in names if podman.image_exists(name)]
    if present:
        podman.run("image", "rm", "--force", *present, quiet=True)
    podman.run("image", "prune", "--force", quiet=True)


def build_everything(figures: dict[str, object]) -> None:
    started = time.monotonic()
    figures["base_made"] = base.ensure()
    figures["base_s"] = round(time.monotonic() - started, 1)
    figures["image_build_s"] = {k: round(v, 1) for k, v in images.build_all(base.NAME).items()}
    figures["build_s"] = round(time.monotonic() - started, 1)
    started = time.monotonic()
    images.build_all(base.NAME)  # nothing changed: every layer from the cache
    figures["warm_rebuild_s"] = round(time.monotonic() - started, 1)
    names = [base.NAME, *(image.name for image in images.wanted(base.NAME))]
    figures["image_mb"] = {k: round(v / 1e6) for k, v in images.sizes(names).items()}


def after_up(api: cluster_api.Api, lib: library.Library, figures: dict[str, object]) -> None:
    """Every container healthy, then every file of the library as promised."""
    figures["healthy_after_s"] = stack.wait_healthy(timeout=240)
    node = cluster_api.eventually(lambda: [n["node"] for n in api.nodes()] or None, 120, "a node")[0]
    api.start_quick(node)
    jobs = cluster_api.eventually(lambda: api.settled(len(verify.EXPECTED)), 600, "every job final")
    if found := verify.problems(jobs, lib):
        raise SystemExit("files not as promised:\n  " + "\n  ".join(found))
    print(f"every file as promised: {sorted((j['path'], j['status']) for j in jobs)}")


def after_scale(api: cluster_api.Api, wanted: int) -> list[str]:
    """As many nodes on the dashboard as encoder containers, each under its own name."""

    def names() -> list[str] | None:
        found = sorted(n["node"] for n in api.nodes())
        return found if len(set(found)) == wanted else None

    found = cluster_api.eventually(names, 180, f"{wanted} nodes on the dashboard")
    print(f"nodes on the dashboard: {found}")
    return found


def after_down(ids: set[str]) -> None:
    """No container, network, container process or monitor of the stack left."""
    cluster_api.eventually(
        lambda: stack.leftovers(ids) == [] or None, 60, "nothing left running", interval=0.5
    )
    print("after down: nothing of the stack runs")


def follow_readme(work: Path, figures: dict[str, object]) -> None:
    repo = stack.copy_repository(work / "repo")
    lib = library.build(work / "media", SHARED_MEDIA)
    subprocess.run(["chown", "-R", f"{SERVICE_UID}:{SERVICE_UID}", str(lib.root)], check=True)
    port = free_port()
    api: cluster_api.Api | None = None
    ids: set[str] = set()
    try:
        for line in stack.readme_lines():
            argv = stack.adapted(line, lib.root)
            started = time.monotonic()
            stack.run(argv, cwd=repo)
            if "make_env.py" in " ".join(argv):
                env_file = repo / "deploy" / ".env"
                api_key = secrets.token_urlsafe(24)
                # What a user of this machine changes: free ports, the local images, an API key for the
                # script, and the node waits for "start" (the test sets quick settings first).
                stack.set_env(env_file, {"PORT": str(port), "NATS_PORT": str(free_port()), "API_KEY": api_key,
                                         "AUTOSTART": "false", "BASE_IMAGE": base.NAME,
                                         **{var: images.stand_in(s) for s, var in images.SERVERS.items()}})  # fmt: skip
                api = cluster_api.Api(port, api_key)
            elif "up" in argv and "--scale" not in argv:
                figures["compose_up_s"] = round(time.monotonic() - started, 1)
                assert api is not None
                after_up(api, lib, figures)
                ids |= {c["id"] for c in stack.containers()}
            elif "--scale" in argv:
                assert api is not None
                wanted = int(next(w.split("=")[1] for w in argv if w.startswith("encoder=")))
                figures["nodes"] = after_scale(api, wanted)
                ids |= {c["id"] for c in stack.containers()}
            elif "down" in argv:
                figures["down_s"] = round(time.monotonic() - started, 1)
                after_down(ids)
            if "--scale" in argv:
                # Before the README's `down`: each service stops by itself on SIGTERM, in time.
                figures["stop_s"] = stack.stop_each(STOP_TIMEOUT)
    except BaseException:
        for container in stack.containers():
            print(f"--- {container['name']} ({container['state']})", flush=True)
            podman.run("logs", "--tail", "30", container["name"], check=False)
        subprocess.run([*podman.compose_argv(), "-f", "deploy/compose.yaml", "down"], cwd=repo, check=False)
        raise
    finally:
        if api is not None:
            api.close()
        stack.remove_volumes()
    # The README's lines decide what runs: each check must have had its line.
    missing = [step for step in ("healthy_after_s", "nodes", "stop_s", "down_s") if step not in figures]
    if missing:
        raise SystemExit(f"the README's container lines no longer lead to these checks: {missing}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="forget the base and every image first")
    parser.add_argument("--images-only", action="store_true", help="build the images, run nothing")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (library, logs)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="librarrarian-deploy-"))
    podman.configure(work)
    if stack.containers():
        raise SystemExit(f"a '{stack.PROJECT}' compose stack exists on this machine: stop it first")
    figures: dict[str, object] = {"podman": podman.output("--version")}
    try:
        if args.cold:
            forget_images()
        build_everything(figures)
        if not args.images_only:
            follow_readme(work, figures)
    finally:
        if not args.keep:
            subprocess.run(["rm", "-rf", str(work)], check=False)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    if not args.images_only:
        print("deploy test: 1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
