"""Each service that keeps records owns one PostgreSQL schema and logs in as a role of its own, which may use
that schema and nothing else: the names, and a service's URL made from the server's."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from urllib.parse import quote, urlsplit, urlunsplit

# The services with a database, each owning the schema of its name (encoder and cleanup keep nothing).
SCHEMAS: tuple[str, ...] = ("scanner", "scheduler", "history", "gateway", "arr")


def role_of(service: str) -> str:
    return f"librarrarian_{service}"


def password_variable(service: str) -> str:
    """The environment variable the provisioning step reads a service role's password from."""
    return f"POSTGRES_{service.upper()}_PASSWORD"


def login_url(url: str, user: str, password: str) -> str:
    """``url`` (a server and its database) logging in as ``user`` with ``password`` instead."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"))


def scram_verifier(password: str, *, iterations: int = 4096, salt: bytes | None = None) -> str:
    """What PostgreSQL stores for a SCRAM-SHA-256 password (RFC 5802, 7677). Sent in its place, the password
    itself never reaches the server, its statement log or its statistics."""
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    stored_key = hashlib.sha256(hmac.new(salted, b"Client Key", "sha256").digest()).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"
