"""``librarrarian up`` starts the gateway with the API key the user set in ``API_KEY``, not another one."""

from __future__ import annotations

from pathlib import Path

import pytest
from librarrarian_contracts.permissions import users
from librarrarian_runtime.database_roles import SCHEMAS

from librarrarian import up

CREDS = {"admin_user": "admin", "admin_password": "generated password", "api_key": "generated-key"}


def gateway_env(tmp_path: Path) -> dict[str, str]:
    options = up.Options(media=(tmp_path,), data_dir=tmp_path / "data")
    logins = up.Logins(
        {user: f"nats://{user}@127.0.0.1:4222" for user in users()},
        {service: f"postgresql://{service}@localhost/db" for service in SCHEMAS},
    )
    (gateway,) = [c for c in up.children(options, logins, CREDS) if c.name == "gateway"]
    return dict(gateway.env)


def test_up_honours_the_users_api_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEY", "the-key-the-user-set-0123456789")
    assert gateway_env(tmp_path)["API_KEY"] == "the-key-the-user-set-0123456789"


def test_up_makes_a_key_when_none_is_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("API_KEY", raising=False)
    assert gateway_env(tmp_path)["API_KEY"] == "generated-key"
