"""Sign-in with an OpenID provider (Authentik, Keycloak, Authelia…): its settings, and the authorization code
flow with PKCE (S256), state and nonce, through authlib. The provider is found by discovery at start, and
again until it answers, so a provider that is down never stops the dashboard; the ID token's signature
(the provider's published keys), issuer, audience, expiry and nonce are checked before anyone is let in.

Nothing here logs or shows a token or the client secret. What the sign-in keeps between its two requests
lives in ``oidc_store``; the pages are ``pages/oidc_login``.
"""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import itertools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.integrations.starlette_client import StarletteIntegration, StarletteOAuth2App
from joserfc.errors import JoseError
from librarrarian_runtime import env

log = logging.getLogger(__name__)

# What a user who signs in with the provider may do, until a setting says otherwise (the scopes of the
# API: read, control, admin). Users are made by the provider's administrator, who decides who gets in.
DEFAULT_SCOPE = "admin"


class UserScope(enum.StrEnum):
    """``OIDC_DEFAULT_SCOPE``: the scope a user who signs in with the provider gets at the first sign-in."""

    READ = "read"
    CONTROL = "control"
    ADMIN = "admin"


HTTP_TIMEOUT = 10.0
RETRY_SECONDS = (5, 15, 60, 300)  # discovery again after these delays, then every last one


@dataclass(frozen=True)
class OidcSettings:
    issuer_url: str
    client_id: str
    client_secret: str = field(repr=False)
    provider_name: str = "OpenID Connect"
    ssl_verify: bool = True
    redirect_url: str | None = None  # None: the callback's address as the browser reached the gateway
    scopes: str = "openid profile email"
    required_group: str | None = None
    groups_claim: str = "groups"
    default_scope: str = DEFAULT_SCOPE

    @classmethod
    def from_env(cls) -> OidcSettings | None:
        """The provider, when ``OIDC_ENABLED`` says so; bad values fail with the variable named."""
        if not env.flag("OIDC_ENABLED", False):
            return None
        issuer = env.text("OIDC_ISSUER_URL").rstrip("/")
        if not secure_or_local(issuer):
            raise env.SettingsError(
                f"OIDC_ISSUER_URL must be an https:// address (http:// only for a provider on this "
                f"machine), not {issuer!r}"
            )
        redirect = env.optional("OIDC_REDIRECT_URL")
        if redirect and urlsplit(redirect).scheme not in ("http", "https"):
            raise env.SettingsError(f"OIDC_REDIRECT_URL must be an http(s):// address, not {redirect!r}")
        scopes = " ".join((env.optional("OIDC_SCOPES") or "openid profile email").split())
        if "openid" not in scopes.split():
            raise env.SettingsError(f"OIDC_SCOPES must include openid, not {scopes!r}")
        return cls(
            issuer_url=issuer,
            client_id=env.text("OIDC_CLIENT_ID"),
            client_secret=env.text("OIDC_CLIENT_SECRET"),
            provider_name=env.optional("OIDC_PROVIDER_NAME") or "OpenID Connect",
            ssl_verify=env.flag("OIDC_SSL_VERIFY", True),
            redirect_url=redirect,
            scopes=scopes,
            required_group=env.optional("OIDC_REQUIRED_GROUP"),
            groups_claim=env.optional("OIDC_GROUPS_CLAIM") or "groups",
            default_scope=env.choice("OIDC_DEFAULT_SCOPE", UserScope, UserScope(DEFAULT_SCOPE)).value,
        )


def secure_or_local(url: str) -> bool:
    """https, or http to this machine (a provider run beside the gateway, or a test's)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


class SignInRefused(Exception):
    """The sign-in cannot go on; the message is for the person signing in (it never holds a secret)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Authorization:
    """A sign-in sent to the provider: where to send the browser, and what the callback checks."""

    url: str
    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in: its issuer and subject name them for good."""

    issuer: str
    subject: str
    name: str  # preferred_username, else email, else the subject
    claims: dict[str, Any]


class OpenIdProvider:
    """One OpenID provider, as its discovery document describes it."""

    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        self.problem: str | None = "not asked yet"  # why the provider cannot be used now; None: it can
        self._lock = asyncio.Lock()
        self._client = StarletteOAuth2App(
            StarletteIntegration("oidc"),
            name="oidc",
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            server_metadata_url=f"{settings.issuer_url}/.well-known/openid-configuration",
            client_kwargs={
                "scope": settings.scopes,
                "code_challenge_method": "S256",
                "verify": settings.ssl_verify,
                "timeout": HTTP_TIMEOUT,
            },
        )

    @property
    def name(self) -> str:
        return self.settings.provider_name

    @property
    def metadata(self) -> dict[str, Any]:
        return self._client.server_metadata  # type: ignore[no-any-return]

    async def discover(self) -> bool:
        """Read the discovery document and the signing keys once; False, with ``problem`` set, when the
        provider does not answer or answers something unusable."""
        async with self._lock:
            if self.problem is None:
                return True
            try:
                metadata = await self._client.load_server_metadata()
                issuer = str(metadata.get("issuer", "")).rstrip("/")
                if issuer != self.settings.issuer_url:
                    raise ValueError(f"its discovery document names another issuer, {issuer!r}")
                missing = [
                    k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if k not in metadata
                ]
                if missing:
                    raise ValueError(f"its discovery document has no {', '.join(missing)}")
                await self._client.fetch_jwk_set()
            except (httpx2.HTTPError, ValueError, TypeError) as error:
                self.metadata.clear()  # read it all again next time
                self.problem = str(error) or type(error).__name__
                log.warning("OpenID provider %s unusable: %s", self.settings.issuer_url, self.problem)
                return False
            self.problem = None
            log.info("OpenID provider %s discovered", self.settings.issuer_url)
            return True

    async def keep_discovering(self) -> None:
        """Discovery until it works, waiting longer between tries; a click on the button tries at once."""
        for attempt in itertools.count():
            if await self.discover():
                return
            await asyncio.sleep(RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)])

    async def authorize(self, redirect_uri: str) -> Authorization:
        """A new sign-in: fresh state, nonce and PKCE verifier (authlib's random tokens)."""
        if not await self.discover():
            raise SignInRefused(
                503,
                f"Sign-in with {self.name} is not available right now: it did not answer as expected. "
                "Try again in a moment; the gateway's log says more.",
            )
        created = await self._client.create_authorization_url(redirect_uri)
        return Authorization(
            url=created["url"],
            state=created["state"],
            nonce=created["nonce"],
            code_verifier=created["code_verifier"],
            redirect_uri=redirect_uri,
        )

    async def finish(
        self, code: str, returned_issuer: str | None, nonce: str, code_verifier: str, redirect_uri: str
    ) -> Identity:
        """Trade the code (with the PKCE verifier) for tokens, check the ID token, and read the claims;
        refused unless everything checks out. ``returned_issuer`` is the callback's ``iss`` (RFC 9207):
        when the provider sends one, a code from another provider is not taken for one of ours."""
        issuer = self.metadata["issuer"]
        if returned_issuer != issuer and (
            returned_issuer is not None or self.metadata.get("authorization_response_iss_parameter_supported")
        ):
            log.warning("callback names issuer %r instead of %s", returned_issuer, issuer)
            raise SignInRefused(401, f"The answer did not come from {self.name}. Start again.")
        try:
            token = await self._client.fetch_access_token(
                redirect_uri=redirect_uri, code=code, code_verifier=code_verifier
            )
        except OAuthError as error:
            log.warning("OpenID provider %s refused the code: %s", self.settings.issuer_url, error.error)
            raise SignInRefused(401, f"{self.name} did not confirm the sign-in. Start again.") from error
        except httpx2.HTTPError as error:
            log.warning("OpenID provider %s: token request failed: %s", self.settings.issuer_url, error)
            raise SignInRefused(502, f"{self.name} did not answer. Try again in a moment.") from error
        claims = await self._checked_id_token(token, nonce)
        claims = {**await self._userinfo(token, claims["sub"]), **claims}
        subject = str(claims["sub"])
        name = claims.get("preferred_username") or claims.get("email") or subject
        return Identity(issuer=issuer, subject=subject, name=str(name), claims=claims)

    async def _checked_id_token(self, token: dict[str, Any], nonce: str) -> dict[str, Any]:
        if "id_token" not in token:
            raise SignInRefused(401, f"{self.name} sent no ID token. Check that the client is an OpenID one.")
        options = {
            "iss": {"essential": True, "value": self.metadata["issuer"]},
            "aud": {"essential": True, "value": self.settings.client_id},
        }
        try:
            claims = await self._client.parse_id_token(token, nonce=nonce, claims_options=options)
        except httpx2.HTTPError as error:  # its keys, read again for a key id not seen before
            log.warning("OpenID provider %s: keys unreadable: %s", self.settings.issuer_url, error)
            raise SignInRefused(502, f"{self.name} did not answer. Try again in a moment.") from error
        except (JoseError, ValueError) as error:
            log.warning("OpenID provider %s: ID token refused: %r", self.settings.issuer_url, error)
            raise SignInRefused(
                401, f"The answer from {self.name} did not check out. Start again."
            ) from error
        return dict(claims)

    async def _userinfo(self, token: dict[str, Any], subject: str) -> dict[str, Any]:
        """The userinfo endpoint's claims, which many providers send only there (groups, say)."""
        if "userinfo_endpoint" not in self.metadata:
            return {}
        try:
            info = dict(await self._client.userinfo(token=token))
        except httpx2.HTTPError as error:
            log.warning("OpenID provider %s: userinfo failed: %s", self.settings.issuer_url, error)
            raise SignInRefused(502, f"{self.name} did not answer. Try again in a moment.") from error
        if info.get("sub") != subject:  # OpenID Connect Core 5.3.2: not this user's answer
            raise SignInRefused(401, f"The answer from {self.name} did not check out. Start again.")
        return info

    def check_membership(self, identity: Identity) -> None:
        """Refused unless the user is in the required group (when one is set)."""
        wanted = self.settings.required_group
        if wanted is None:
            return
        held = identity.claims.get(self.settings.groups_claim)
        groups = held if isinstance(held, list) else [held] if held is not None else []
        if wanted not in [str(group) for group in groups]:
            log.info("refused %s from %s: not in group %s", identity.name, identity.issuer, wanted)
            raise SignInRefused(
                403,
                f"You signed in at {self.name} as {identity.name}, but this dashboard only lets in members "
                f"of the group {wanted!r}. Ask the administrator of {self.name} to add you.",
            )


@asynccontextmanager
async def provider_running(settings: OidcSettings | None) -> AsyncIterator[OpenIdProvider | None]:
    """The provider (None without OIDC), discovered in the background for the block's length."""
    if settings is None:
        yield None
        return
    provider = OpenIdProvider(settings)
    discovering = asyncio.create_task(provider.keep_discovering())
    try:
        yield provider
    finally:
        discovering.cancel()
        await asyncio.gather(discovering, return_exceptions=True)
