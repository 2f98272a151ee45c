"""The ID token checks without a provider: tokens made here, signed with keys made here, handed to the gateway's
provider object as if its discovery had found these keys. A real provider cannot be asked for a bad token, so
the signature, issuer, audience, expiry and algorithm are refused here; the nonce, PKCE and the rest are refused
against the real provider in ``test_oidc.py``."""

from __future__ import annotations

import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey
from librarrarian_gateway.oidc import Identity, OidcSettings, OpenIdProvider, SignInRefused

ISSUER, CLIENT = "https://id.example", "librarrarian"


def provider(key: RSAKey, **settings: Any) -> OpenIdProvider:
    found = OpenIdProvider(
        OidcSettings(
            issuer_url=ISSUER, client_id=CLIENT, client_secret="secret", provider_name="Test ID", **settings
        )
    )
    found.metadata.update(
        issuer=ISSUER,
        jwks=KeySet([key]).as_dict(private=False),
        id_token_signing_alg_values_supported=["RS256"],
        _loaded_at=time.time(),
    )
    found.problem = None
    return found


def id_token(key: RSAKey | OctKey, alg: str = "RS256", **changes: Any) -> dict[str, str]:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": CLIENT, "sub": "alice", "iat": now, "exp": now + 300, "nonce": "n-1"}
    claims = {
        name: value for name, value in (claims | changes).items() if value is not None
    }  # None: left out
    header = {"alg": alg, "kid": key.kid} if key.kid else {"alg": alg}
    return {"id_token": jwt.encode(header, claims, key), "access_token": "at", "token_type": "Bearer"}


@pytest.fixture(scope="module")
def key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k1"})


async def test_a_good_id_token_is_taken(key: RSAKey) -> None:
    claims = await provider(key)._checked_id_token(id_token(key), "n-1")
    assert (claims["sub"], claims["iss"]) == ("alice", ISSUER)


@pytest.mark.parametrize(
    "changes",
    [
        {"nonce": "another"},
        {"iss": "https://other.example"},
        {"aud": "another-client"},
        {"aud": "another-client", "azp": CLIENT},  # made for another client, naming us as the party
        {"exp": int(time.time()) - 3600},
        {"iat": None},
    ],
    ids=["nonce", "issuer", "audience", "audience-with-azp", "expired", "no-iat"],
)
async def test_an_id_token_with_a_wrong_claim_is_refused(key: RSAKey, changes: dict[str, Any]) -> None:
    token = id_token(key, **changes)
    with pytest.raises(SignInRefused, match="did not check out"):
        await provider(key)._checked_id_token(token, "n-1")


async def test_an_id_token_signed_by_another_key_is_refused(key: RSAKey) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k1"})  # the same key id, another key
    with pytest.raises(SignInRefused, match="did not check out"):
        await provider(key)._checked_id_token(id_token(stranger), "n-1")


async def test_an_id_token_signed_with_the_client_secret_is_refused(key: RSAKey) -> None:
    """HS256 with a secret the client knows is not the provider's signature (only RS256 is announced)."""
    secret = OctKey.import_key("secret" * 6)
    with pytest.raises(SignInRefused, match="did not check out"):
        await provider(key)._checked_id_token(id_token(secret, alg="HS256"), "n-1")


async def test_no_id_token_is_refused(key: RSAKey) -> None:
    with pytest.raises(SignInRefused, match="no ID token"):
        await provider(key)._checked_id_token({"access_token": "at"}, "n-1")


@pytest.mark.parametrize(
    ("claims", "allowed"),
    [
        ({"groups": ["family", "media"]}, True),
        ({"groups": "media"}, True),
        ({"groups": ["family"]}, False),
        ({"groups": "mediaserver"}, False),
        ({}, False),
        ({"roles": ["media"]}, False),  # another claim than OIDC_GROUPS_CLAIM names
    ],
)
def test_the_required_group(key: RSAKey, claims: dict[str, Any], allowed: bool) -> None:
    found = provider(key, required_group="media")
    identity = Identity(issuer=ISSUER, subject="alice", name="alice", claims=claims)
    if allowed:
        found.check_membership(identity)
    else:
        with pytest.raises(SignInRefused, match="group 'media'") as refused:
            found.check_membership(identity)
        assert refused.value.status == 403
