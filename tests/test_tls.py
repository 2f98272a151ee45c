"""NATS with TLS between machines, as the README says to set it up: ``deploy/nats-tls.conf`` with a
certificate signed by a CA of our own (made here with the openssl command line, as the README shows), and a
service connecting with ``tls://`` and ``NATS_CA_FILE``."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from librarrarian_contracts import provision, require
from librarrarian_contracts.catalog import Role
from librarrarian_contracts.permissions import PROVISIONER
from librarrarian_runtime import bus
from librarrarian_runtime.env import SettingsError
from librarrarian_testing import role_servers

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def openssl(*args: str, cwd: Path) -> None:
    found = shutil.which("openssl")
    assert found, "the openssl command line is needed to make the test's certificates"
    subprocess.run([found, *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(folder: Path) -> None:
    """A CA, and the server's certificate for localhost signed by it: ca.pem, server.pem, server-key.pem."""
    folder.mkdir()
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=Librarrarian test CA",
        "-keyout", "ca-key.pem", "-out", "ca.pem",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )  # fmt: skip
    (folder / "server.ext").write_text(
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n"
    )
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
        "-keyout", "server-key.pem", "-out", "server.csr",
        cwd=folder,
    )  # fmt: skip
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
        "-days", "1", "-extfile", "server.ext", "-out", "server.pem",
        cwd=folder,
    )  # fmt: skip


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """nats-server with deploy/nats-tls.conf, the test's certificates in its certificate folder."""
    certs = tmp_path / "certs"
    make_certificates(certs)
    with role_servers.deploy_server(tmp_path / "nats", tls_certs=certs) as server:
        yield server.port, certs / "ca.pem"


async def test_a_service_connects_over_tls_trusting_the_ca_file(
    tls_server: tuple[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, ca = tls_server
    monkeypatch.setenv("NATS_CA_FILE", str(ca))
    provisioner = await bus.connect(f"tls://{PROVISIONER}:secret-{PROVISIONER}@localhost:{port}", "provision")
    try:
        await provision(provisioner.jetstream())
    finally:
        await provisioner.close()
    encoder = await bus.connect(f"tls://encoder:secret-encoder@localhost:{port}", "encoder")
    try:
        assert encoder.connected_url is not None and encoder.connected_url.scheme == "tls"
        await require(encoder.jetstream(), Role.ENCODER)  # JetStream answers, in the role's own inbox
    finally:
        await encoder.close()


async def test_without_the_ca_the_servers_certificate_is_not_trusted(tls_server: tuple[int, Path]) -> None:
    port, _ = tls_server
    with pytest.raises(ssl.SSLCertVerificationError):
        await nats.connect(f"tls://encoder:secret-encoder@localhost:{port}", allow_reconnect=False)


def test_a_ca_file_that_is_not_there_is_named_at_start(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="NATS_CA_FILE"):
        bus.tls_context(tmp_path / "missing.pem")
