"""A gateway that lets users in through a real OpenID provider (``librarrarian_testing.openid_provider``), and
a browser's way through the provider's forms over plain HTTP, for the tests that tamper with what comes back."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
from librarrarian_gateway.oidc import OidcSettings
from librarrarian_testing.openid_provider import ACCOUNTS, OpenIdProvider, running_provider
from nats.js import JetStreamContext

from .sites import Site, gateway_settings, running_site

PROVIDER_NAME = "Test ID"
REQUIRED_GROUP = "librarrarian-admins"


@dataclass(frozen=True)
class OidcSite:
    site: Site
    provider: OpenIdProvider

    @property
    def callback(self) -> str:
        return f"{self.site.url}/login/oidc/callback"


@contextlib.asynccontextmanager
async def oidc_site(
    nats_url: str, database_url: str, tmp_path: Path, js: JetStreamContext, **settings: Any
) -> AsyncIterator[OidcSite]:
    """The gateway alone, with the provider as its way in (``settings``: the gateway's, over the defaults;
    ``oidc`` may be a dict of OIDC settings over the test's)."""
    media = tmp_path / "media"
    media.mkdir()
    base = gateway_settings(nats_url, database_url, media)
    callback = f"http://127.0.0.1:{base.port}/login/oidc/callback"
    async with running_provider([callback], tmp_path / "openid-provider.log") as provider:
        oidc = OidcSettings(
            issuer_url=provider.issuer,
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            provider_name=PROVIDER_NAME,
            scopes="openid profile email groups",
            required_group=REQUIRED_GROUP,
        )
        oidc = replace(oidc, **settings.pop("oidc", {}))
        async with running_site(replace(base, oidc=oidc, **settings), js, with_services=False) as site:
            yield OidcSite(site, provider)


async def through_provider(
    client: httpx.AsyncClient, oidc: OidcSite, login: str, *, allow: bool = True, next: str = "/"
) -> str:
    """From the login page's button through the provider's login (with ``login``'s password) and consent
    (allowed, or denied): the callback address the provider sends the browser back to, not yet visited."""
    url, method, form = f"{oidc.site.url}/login/oidc?next={next}", "GET", None
    for _ in range(20):
        response = await client.request(method, url, data=form)
        if response.status_code in (302, 303):
            url, method, form = urljoin(url, response.headers["location"]), "GET", None
            if url.startswith(oidc.callback):
                return url
        elif response.status_code == 200 and "/interaction/" in url:
            interaction = url.split("?")[0]
            if 'name="password"' in response.text:
                form = {"login": login, "password": ACCOUNTS[login]}
                url, method = f"{interaction}/login", "POST"
            else:
                url, method, form = f"{interaction}/{'consent' if allow else 'abort'}", "POST", {}
        else:
            raise AssertionError(f"{response.status_code} from {url}: {response.text[:500]}")
    raise AssertionError("the provider never sent the browser back")
