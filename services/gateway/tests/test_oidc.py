"""Sign-in with an OpenID provider over HTTP, against a real provider (``oidc-provider``) and a real gateway:
the way in, and everything an attacker can change in what comes back (state, nonce, PKCE verifier, issuer,
the browser that follows the link) refused; a provider that is down at start; the settings that would leave
no way in. The same way in through a real browser is ``test_browser_oidc.py``'s."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from librarrarian_embedded.nats_server import free_port
from librarrarian_gateway import accounts, credentials
from librarrarian_gateway.access import SESSION_COOKIE
from librarrarian_gateway.credentials import Scope
from librarrarian_gateway.oidc import OidcSettings
from librarrarian_gateway.settings import Settings
from librarrarian_runtime.env import SettingsError
from librarrarian_testing.openid_provider import CLIENT_ID, CLIENT_SECRET, running_provider
from nats.js import JetStreamContext

from .signing_in import OidcSite, oidc_site, through_provider
from .sites import PASSWORD, USER, Site, gateway_settings, running_site


@pytest.fixture
async def oidc(
    nats_url: str, database_url: str, tmp_path: Path, bus: tuple[object, JetStreamContext]
) -> AsyncIterator[OidcSite]:
    """The gateway with the provider as a way in, and the password form."""
    async with oidc_site(nats_url, database_url, tmp_path, bus[1]) as running:
        yield running


def browser(oidc: OidcSite) -> httpx.AsyncClient:
    """A client with a cookie jar of its own, like a browser (the gateway's and the provider's cookies)."""
    return httpx.AsyncClient(timeout=10)


async def gateway_db(database_url: str) -> asyncpg.Connection:
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    return connection


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


async def test_a_member_of_the_group_signs_in_and_is_a_user_without_a_password(
    oidc: OidcSite, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with browser(oidc) as client:
        callback = await through_provider(client, oidc, "alice", next="/history?page=2")
        code = parse_qs(urlsplit(callback).query)["code"][0]
        landed = await client.get(callback)
        assert landed.status_code == 303 and landed.headers["location"] == "/history?page=2"
        assert client.cookies.get(SESSION_COOKIE)
        dashboard = await client.get(f"{oidc.site.url}/")
        assert dashboard.status_code == 200 and "Log out alice" in dashboard.text

    connection = await gateway_db(database_url)
    try:
        row = await connection.fetchrow("SELECT * FROM users WHERE name = 'alice'")
        assert row["password_hash"] is None and row["oidc_issuer"] == oidc.provider.issuer
        assert row["oidc_subject"] == "alice"
        assert await connection.fetchval("SELECT count(*) FROM oidc_sign_ins") == 0  # used up
    finally:
        await connection.close()
    async with oidc.site.client(key=None) as anonymous:  # no password: the form never lets alice in
        refused = await anonymous.post("/login", data={"username": "alice", "password": ""})
        assert refused.status_code in (401, 422)
    gateway_side = "\n".join(r.getMessage() for r in caplog.records if not is_test_client(r.name))
    assert "signed in" in gateway_side
    for secret in (CLIENT_SECRET, code):
        assert secret not in gateway_side


def is_test_client(logger: str) -> bool:
    """The test's own httpx (it follows the provider's redirects, codes and all); the gateway's is httpx2."""
    return logger.split(".")[0] in ("httpx", "httpcore")


async def test_the_second_sign_in_finds_the_same_user(oidc: OidcSite) -> None:
    for _ in range(2):
        async with browser(oidc) as client:
            assert (await client.get(await through_provider(client, oidc, "alice"))).status_code == 303
    async with oidc.site.client(key=None) as anonymous:
        login_page = await anonymous.get("/login")
        assert "Sign in with Test ID" in login_page.text and 'name="password"' in login_page.text


async def test_a_user_outside_the_required_group_is_refused(oidc: OidcSite) -> None:
    async with browser(oidc) as client:
        refused = await client.get(await through_provider(client, oidc, "bob"))
        assert refused.status_code == 403
        assert "Sign-in refused" in refused.text and "librarrarian-admins" in refused.text
        assert SESSION_COOKIE not in client.cookies
        assert (await client.get(f"{oidc.site.url}/")).status_code == 303  # still to the login page


async def test_a_denied_consent_lets_nobody_in(oidc: OidcSite) -> None:
    async with browser(oidc) as client:
        denied = await client.get(await through_provider(client, oidc, "alice", allow=False))
        assert denied.status_code == 401 and "did not sign you in" in denied.text
        assert SESSION_COOKIE not in client.cookies


async def test_a_callback_works_once(oidc: OidcSite) -> None:
    async with browser(oidc) as client:
        callback = await through_provider(client, oidc, "alice")
        assert (await client.get(callback)).status_code == 303
        client.cookies.clear()
        replayed = await client.get(callback)
        assert replayed.status_code == 400 and "not valid any more" in replayed.text
        assert SESSION_COOKIE not in client.cookies


async def test_a_tampered_state_is_refused(oidc: OidcSite) -> None:
    async with browser(oidc) as client:
        callback = await through_provider(client, oidc, "alice")
        state = parse_qs(urlsplit(callback).query)["state"][0]
        tampered = await client.get(
            with_query(callback, state=state[:-1] + ("A" if state[-1] != "A" else "B"))
        )
        assert tampered.status_code == 400 and SESSION_COOKIE not in client.cookies
        missing = await client.get(with_query(callback, state=""))
        assert missing.status_code == 400


async def test_a_callback_link_followed_by_another_browser_is_refused(oidc: OidcSite) -> None:
    """Login CSRF: an attacker's own finished sign-in, sent to a victim, must not log the victim in as the
    attacker."""
    async with browser(oidc) as attacker:
        callback = await through_provider(attacker, oidc, "alice")
    async with browser(oidc) as victim:
        followed = await victim.get(callback)
        assert followed.status_code == 400 and SESSION_COOKIE not in victim.cookies


async def test_an_id_token_for_another_nonce_is_refused(oidc: OidcSite, database_url: str) -> None:
    async with browser(oidc) as client:
        callback = await through_provider(client, oidc, "alice")
        connection = await gateway_db(database_url)
        try:  # what an ID token replayed from another sign-in looks like: its nonce is not this one's
            assert (
                await connection.execute("UPDATE oidc_sign_ins SET nonce = 'another-sign-in'") == "UPDATE 1"
            )
        finally:
            await connection.close()
        refused = await client.get(callback)
        assert refused.status_code == 401 and "did not check out" in refused.text
        assert SESSION_COOKIE not in client.cookies


async def test_a_code_without_its_pkce_verifier_is_refused_by_the_provider(
    oidc: OidcSite, database_url: str
) -> None:
    async with browser(oidc) as client:
        callback = await through_provider(client, oidc, "alice")
        connection = await gateway_db(database_url)
        try:
            await connection.execute("UPDATE oidc_sign_ins SET code_verifier = repeat('x', 64)")
        finally:
            await connection.close()
        refused = await client.get(callback)
        assert refused.status_code == 401 and "did not confirm" in refused.text


async def test_an_answer_naming_another_issuer_is_refused(oidc: OidcSite) -> None:
    async with browser(oidc) as client:
        callback = await through_provider(client, oidc, "alice")
        refused = await client.get(with_query(callback, iss="https://evil.example"))
        assert refused.status_code == 401 and "did not come from Test ID" in refused.text


async def test_without_local_login_the_form_is_gone_and_a_password_is_refused(
    nats_url: str, database_url: str, tmp_path: Path, bus: tuple[object, JetStreamContext]
) -> None:
    async with oidc_site(nats_url, database_url, tmp_path, bus[1], local_login_enabled=False) as oidc:
        async with oidc.site.client(key=None) as anonymous:
            page = await anonymous.get("/login")
            assert "Sign in with Test ID" in page.text and 'name="password"' not in page.text
            refused = await anonymous.post("/login", data={"username": USER, "password": PASSWORD})
            assert refused.status_code == 403 and "turned off" in refused.text
            assert SESSION_COOKIE not in anonymous.cookies
        async with browser(oidc) as client:
            assert (await client.get(await through_provider(client, oidc, "alice"))).status_code == 303


async def test_a_provider_down_at_start_is_used_once_it_answers(
    nats_url: str, database_url: str, tmp_path: Path, bus: tuple[object, JetStreamContext]
) -> None:
    port = free_port()
    settings = gateway_settings(nats_url, database_url, tmp_path)
    oidc = OidcSettings(
        issuer_url=f"http://localhost:{port}",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        provider_name="Test ID",
        scopes="openid profile email groups",
    )
    site_running = running_site(replace(settings, oidc=oidc), bus[1], with_services=False)
    async with site_running as site, site.client(key=None) as client:
        page = await client.get("/login")
        assert "Sign in with Test ID" in page.text and "has not answered yet" in page.text
        unavailable = await client.get("/login/oidc")
        assert unavailable.status_code == 503 and "not available right now" in unavailable.text
        callback = f"{site.url}/login/oidc/callback"
        async with running_provider([callback], tmp_path / "provider.log", port=port) as provider:
            assert provider.issuer == oidc.issuer_url
            started = await client.get("/login/oidc")  # the click tries discovery at once
            assert started.status_code == 303
            assert started.headers["location"].startswith(f"{provider.issuer}/auth?")
            query = parse_qs(urlsplit(started.headers["location"]).query)
            assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
            assert query["nonce"][0] and query["state"][0] and "groups" in query["scope"][0]


async def test_a_start_with_no_way_in_fails_with_a_clear_message(database_url: str) -> None:
    environment = {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": database_url,
        "LOCAL_LOGIN_ENABLED": "false",
        "OIDC_ENABLED": "false",
    }
    started = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "librarrarian_gateway", env=environment, stderr=subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(started.communicate(), 60)
    assert started.returncode == 1
    assert "LOCAL_LOGIN_ENABLED=false leaves no way to log in" in stderr.decode()
    assert "Traceback" not in stderr.decode()


@pytest.mark.parametrize(
    ("environment", "named"),
    [
        ({"LOCAL_LOGIN_ENABLED": "false"}, "LOCAL_LOGIN_ENABLED=false leaves no way to log in"),
        ({"OIDC_ENABLED": "true", "OIDC_CLIENT_ID": "x", "OIDC_CLIENT_SECRET": "y"}, "OIDC_ISSUER_URL"),
        ({"OIDC_ENABLED": "true", "OIDC_ISSUER_URL": "https://id.example"}, "OIDC_CLIENT_ID"),
        (
            {"OIDC_ENABLED": "true", "OIDC_ISSUER_URL": "http://id.example.lan", "OIDC_CLIENT_ID": "x"},
            "OIDC_ISSUER_URL must be an https:// address",
        ),
        (
            {
                "OIDC_ENABLED": "true",
                "OIDC_ISSUER_URL": "https://id.example",
                "OIDC_CLIENT_ID": "x",
                "OIDC_CLIENT_SECRET": "y",
                "OIDC_SCOPES": "profile email",
            },
            "OIDC_SCOPES must include openid",
        ),
    ],
)
def test_settings_that_cannot_work_are_refused_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], named: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://localhost/x")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=named):
        Settings.from_env()


def test_oidc_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "DATABASE_URL": "postgresql://localhost/x",
        "LOCAL_LOGIN_ENABLED": "false",
        "OIDC_ENABLED": "true",
        "OIDC_ISSUER_URL": "https://auth.example/application/o/librarrarian/",
        "OIDC_CLIENT_ID": "librarrarian",
        "OIDC_CLIENT_SECRET": "s3cret",
        "OIDC_PROVIDER_NAME": "Authentik",
        "OIDC_SSL_VERIFY": "false",
        "OIDC_REQUIRED_GROUP": "media",
        "OIDC_SCOPES": "",  # empty, as the compose file passes what is not set: the default
        "OIDC_GROUPS_CLAIM": "",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    assert settings.oidc is not None and not settings.local_login_enabled
    assert settings.oidc.issuer_url == "https://auth.example/application/o/librarrarian"
    assert (settings.oidc.provider_name, settings.oidc.ssl_verify) == ("Authentik", False)
    assert (settings.oidc.required_group, settings.oidc.groups_claim) == ("media", "groups")
    assert settings.oidc.scopes == "openid profile email" and settings.oidc.default_scope == "admin"
    assert "s3cret" not in repr(settings)
    monkeypatch.setenv("OIDC_DEFAULT_SCOPE", "read")
    assert Settings.from_env().oidc.default_scope == "read"  # type: ignore[union-attr]
    # Without authentication nobody logs in, so the form may be off without a provider (on loopback: off
    # it, AUTH_ENABLED=false is refused).
    monkeypatch.setenv("AUTH_ENABLED", "false")
    monkeypatch.setenv("HOST", "127.0.0.1")
    monkeypatch.setenv("OIDC_ENABLED", "false")
    assert Settings.from_env().oidc is None


async def test_a_provider_user_named_like_a_local_one_stays_another_user(
    oidc: OidcSite, database_url: str
) -> None:
    pool = await asyncpg.create_pool(database_url, server_settings={"search_path": "gateway"})
    try:
        await accounts.add_user(pool, "alice", "the local alice's password", Scope.ADMIN)
        async with browser(oidc) as client:
            assert (await client.get(await through_provider(client, oidc, "alice"))).status_code == 303
            assert "Log out alice (localhost)" in (await client.get(f"{oidc.site.url}/")).text
        assert await credentials.login(pool, "alice", "the local alice's password", 1)
        assert await pool.fetchval("SELECT oidc_subject FROM users WHERE name = 'alice'") is None
        # A user the provider signs in gets OIDC_DEFAULT_SCOPE (admin unless set).
        assert await pool.fetchval("SELECT scope FROM users WHERE name = 'alice (localhost)'") == "admin"
    finally:
        await pool.close()


async def test_without_oidc_there_is_no_button_and_no_oidc_route(gateway: Site) -> None:
    async with gateway.client(key=None) as anonymous:
        page = await anonymous.get("/login")
        assert "Sign in with" not in page.text and 'name="password"' in page.text
        assert (await anonymous.get("/login/oidc")).status_code == 404
        assert (
            await anonymous.get("/login/oidc/callback", params={"state": "x", "code": "y"})
        ).status_code == 404


async def test_a_configured_redirect_url_is_the_one_sent_to_the_provider(
    nats_url: str, database_url: str, tmp_path: Path, bus: tuple[object, JetStreamContext]
) -> None:
    outside = "https://media.example.lan/login/oidc/callback"  # a reverse proxy's address, say
    async with (
        oidc_site(nats_url, database_url, tmp_path, bus[1], oidc={"redirect_url": outside}) as oidc,
        oidc.site.client(key=None) as client,
    ):
        started = await client.get("/login/oidc")
        assert started.status_code == 303
        assert parse_qs(urlsplit(started.headers["location"]).query)["redirect_uri"] == [outside]
