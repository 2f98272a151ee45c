"""The base image the test builds on, in place of ``python:3.11-slim-bookworm`` (no registry image can be
pulled here): Debian 12 from Debian's packages (debootstrap), with its Python 3.11 and pip, made once and
kept in podman's storage under ``NAME``; later runs reuse it. Like the official image it has ``python`` and a
pip that may install (no "externally managed" marker). It trusts what this machine trusts (its CA bundle),
so the builds inside it reach the package registries the way the machine does."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import podman

NAME = "localhost/librarrarian-test-base:bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ["python3", "python3-pip", "python-is-python3", "ca-certificates"]
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
SOURCES = f"""\
Types: deb
URIs: {MIRROR}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
# What an image needs no copy of: documentation, translations, package lists and downloaded packages.
PRUNED = ["usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "var/lib/apt/lists",
          "var/cache/apt", "var/cache/debconf/templates.dat-old", "etc/apt/sources.list"]  # fmt: skip
CHANGES = [
    "ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV=LANG=C.UTF-8",
    # uv trusts its own roots unless told; pip (Debian's) and Python use the system bundle.
    "ENV=SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
    'CMD=["python3"]',
]


def ensure(rebuild: bool = False) -> bool:
    """Make the base image unless it exists; True when it was made now."""
    if podman.image_exists(NAME) and not rebuild:
        print(f"base image {NAME}: reused")
        return False
    with tempfile.TemporaryDirectory(prefix="librarrarian-base-") as work:
        root = Path(work) / "rootfs"
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(PACKAGES)}",
                "bookworm",
                str(root),
                MIRROR,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        _finish(root)
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        argv = ["podman", "import", *(f"--change={c}" for c in CHANGES), "-", NAME]
        subprocess.run(argv, stdin=tar.stdout, check=True, stdout=subprocess.DEVNULL)
        if tar.wait() != 0:
            raise SystemExit("tar of the base image's tree failed")
    print(f"base image {NAME}: made")
    return True


def _finish(root: Path) -> None:
    """Make the tree look like the official image where the builds care, and trim it."""
    for marker in (root / "usr/lib").glob("python3*/EXTERNALLY-MANAGED"):
        marker.unlink()
    (root / "etc/apt/sources.list.d/debian.sources").write_text(SOURCES)
    # The machine's own CAs (those Debian's bundle lacks) as local certificates: kept when a later apt-get
    # rebuilds the bundle.
    debian = set(_certificates((root / "etc/ssl/certs/ca-certificates.crt").read_text()))
    extra = [pem for pem in _certificates(HOST_CA.read_text()) if pem not in debian]
    for number, pem in enumerate(extra):
        (root / f"usr/local/share/ca-certificates/host-{number}.crt").write_text(pem)
    # A clean environment: this process's TMPDIR, for one, does not exist inside the tree.
    clean = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    subprocess.run(
        ["chroot", str(root), "update-ca-certificates"], check=True, env=clean, stdout=subprocess.DEVNULL
    )
    for relative in PRUNED:
        target = root / relative
        if target.is_dir():
            shutil.rmtree(target)
            target.mkdir()
        else:
            target.unlink(missing_ok=True)
    for mount_point in ("proc", "sys", "dev"):
        (root / mount_point).mkdir(exist_ok=True)


def _certificates(bundle: str) -> list[str]:
    """The PEM blocks of a bundle, each whole with its end line."""
    end = "-----END CERTIFICATE-----"
    return [block.strip()[block.strip().index("-----BEGIN"):] + "\n" + end + "\n"
            for block in bundle.split(end) if "-----BEGIN CERTIFICATE-----" in block]  # fmt: skip
