"""U7: the OpenID Connect flow logic, with the provider answered in-process.

The provider's discovery, keys and token endpoint are stood in by a subclass of the client;
everything Netra decides (state, nonce, PKCE, ID token checks, domains, linking) is real.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey
from sqlalchemy import select

from netra.apps.auth_service import create_app
from netra.auth.oauth_flow import STATE_COOKIE
from netra.auth.oauth_router import OIDC
from netra.auth.oidc import OidcClient, OidcError, check_id_token_claims, identity_from_claims
from netra.core.audit import AuditEvent
from netra.core.settings import Settings
from support.accounts import STRONG_PASSWORD, bearer, migrated

ISSUER = "https://idp.example.test"
CLIENT_ID = "netra-client"
CLIENT_SECRET = "client-secret-used-by-netra-only-000"


@functools.cache
def provider_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k1"})


class FakeProvider(OidcClient):
    """Discovery, JWKS and the token endpoint answered here; the rest is the real client."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.signing = provider_key()
        self._metadata = {
            "issuer": ISSUER,
            "authorization_endpoint": ISSUER + "/authorize",
            "token_endpoint": ISSUER + "/token",
            "jwks_uri": ISSUER + "/jwks",
            "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
        }
        self._metadata_at = time.monotonic()
        self._keys = KeySet([self.signing])
        self.next_claims: dict[str, Any] = {}
        self.next_header: dict[str, Any] | None = None
        self.next_key: Any = None
        self.exchanged: list[tuple[str, str]] = []

    async def keys(self, *, force: bool = False) -> KeySet:
        assert self._keys is not None
        return self._keys

    def id_token(self, nonce: str, **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": CLIENT_ID,
            "sub": "idp-sub-1",
            "email": "pat@example.com",
            "email_verified": True,
            "name": "Pat",
            "nonce": nonce,
            "iat": now,
            "exp": now + 300,
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        header = self.next_header or {"alg": "RS256", "kid": "k1"}
        key = self.next_key or self.signing
        return jwt.encode(header, claims, key, algorithms=[header["alg"]])

    async def exchange_code(self, code: str, code_verifier: str) -> str:
        self.exchanged.append((code, code_verifier))
        nonce = self.next_claims.pop("nonce", None) or self.current_nonce
        return self.id_token(nonce, **self.next_claims)

    current_nonce = ""


def oauth_settings(make_settings: Any, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "oauth_enabled": True,
        "oauth_issuer": ISSUER,
        "oauth_client_id": CLIENT_ID,
        "oauth_client_secret": CLIENT_SECRET,
        "public_url": "http://netra.test",
    }
    values.update(extra)
    settings: Settings = make_settings(**values)
    return settings


@pytest.fixture
async def app_client(make_settings: Any) -> AsyncIterator[tuple[httpx.AsyncClient, FakeProvider]]:
    settings = await migrated(oauth_settings(make_settings, oauth_allowed_domains="example.com"))
    app = create_app(settings)
    from support.apps import running_app

    async with running_app(app, base_url="http://netra.test") as client:
        provider = FakeProvider(settings)
        app.state.runtime.services.provide(OIDC, provider)
        yield client, provider


async def start(client: httpx.AsyncClient, provider: FakeProvider) -> dict[str, str]:
    r = await client.get("/auth/oauth/google/authorize")
    assert r.status_code == 302
    query = {k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()}
    provider.current_nonce = query["nonce"]
    return query


async def test_authorization_url_has_state_nonce_and_pkce_s256(
    app_client: tuple[httpx.AsyncClient, FakeProvider],
) -> None:
    client, provider = app_client
    q = await start(client, provider)
    assert q["response_type"] == "code" and q["client_id"] == CLIENT_ID
    assert q["redirect_uri"] == "http://netra.test/auth/oauth/google/callback"
    assert "openid" in q["scope"].split() and "email" in q["scope"].split()
    assert len(q["state"]) >= 32 and len(q["nonce"]) >= 32 and q["state"] != q["nonce"]
    assert q["code_challenge_method"] == "S256"
    assert client.cookies.get(STATE_COOKIE) == q["state"]
    # The challenge is S256 of the verifier sent at the code exchange.
    await client.get("/auth/oauth/google/callback", params={"state": q["state"], "code": "c1"})
    verifier = provider.exchanged[0][1]
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    assert q["code_challenge"] == digest.decode()


async def test_callback_signs_in_with_a_one_time_code_never_a_token(
    app_client: tuple[httpx.AsyncClient, FakeProvider],
) -> None:
    client, provider = app_client
    q = await start(client, provider)
    r = await client.get("/auth/oauth/google/callback", params={"state": q["state"], "code": "c1"})
    assert r.status_code == 302
    location = r.headers["location"]
    assert location.startswith("http://netra.test/#login_code=") and "eyJ" not in location
    code = location.split("=", 1)[1]
    pair = await client.post("/auth/oauth/exchange", json={"code": code})
    assert pair.status_code == 200
    me = (await client.get("/auth/me", headers=bearer(pair.json()["access_token"]))).json()
    assert me["email"] == "pat@example.com" and me["role"] == "owner"


async def test_login_code_only_works_from_the_browser_it_was_issued_to(
    app_client: tuple[httpx.AsyncClient, FakeProvider],
) -> None:
    client, provider = app_client
    q = await start(client, provider)
    r = await client.get("/auth/oauth/google/callback", params={"state": q["state"], "code": "c"})
    code = r.headers["location"].split("=", 1)[1]
    client.cookies.clear()
    stolen = await client.post("/auth/oauth/exchange", json={"code": code})
    assert stolen.status_code == 401


@pytest.mark.parametrize("case", ["wrong", "missing_cookie", "replayed", "unknown"])
async def test_callback_refuses_bad_state(
    app_client: tuple[httpx.AsyncClient, FakeProvider], case: str
) -> None:
    client, provider = app_client
    q = await start(client, provider)
    state = q["state"]
    if case == "wrong":
        state = state[:-1] + ("A" if state[-1] != "A" else "B")
    elif case == "missing_cookie":
        client.cookies.clear()
    elif case == "replayed":
        ok = await client.get("/auth/oauth/google/callback", params={"state": state, "code": "c"})
        assert ok.status_code == 302
        client.cookies.set(STATE_COOKIE, state, path="/auth/oauth")
    elif case == "unknown":
        state = "x" * 43
        client.cookies.set(STATE_COOKIE, state, path="/auth/oauth")
    r = await client.get("/auth/oauth/google/callback", params={"state": state, "code": "c"})
    assert r.status_code == 400
    assert "state" in r.json()["error"]["message"]
    assert len(provider.exchanged) == (1 if case == "replayed" else 0)


@pytest.mark.parametrize(
    ("claims", "status", "words"),
    [
        ({"nonce": "not-the-nonce"}, 401, "nonce"),
        ({"iss": "https://evil.example"}, 401, "not valid"),
        ({"aud": "another-client"}, 401, "another client"),
        ({"aud": [CLIENT_ID, "other"], "azp": "other"}, 401, "authorized party"),
        ({"exp": int(time.time()) - 600, "iat": int(time.time()) - 900}, 401, "not valid"),
        ({"email_verified": False}, 403, "not verified"),
        ({"email": "pat@elsewhere.org"}, 403, "elsewhere.org"),
        ({"email": None}, 403, "e-mail"),
    ],
)
async def test_callback_refuses_untrustworthy_id_tokens(
    app_client: tuple[httpx.AsyncClient, FakeProvider],
    claims: dict[str, Any],
    status: int,
    words: str,
) -> None:
    client, provider = app_client
    q = await start(client, provider)
    provider.next_claims = dict(claims)
    r = await client.get("/auth/oauth/google/callback", params={"state": q["state"], "code": "c"})
    assert r.status_code == status, r.text
    assert words in r.json()["error"]["message"]


@pytest.mark.parametrize("attack", ["other_key", "hs256_client_secret", "none"])
async def test_callback_refuses_forged_id_token_signatures(
    app_client: tuple[httpx.AsyncClient, FakeProvider], attack: str
) -> None:
    client, provider = app_client
    q = await start(client, provider)
    if attack == "other_key":
        provider.next_key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    elif attack == "hs256_client_secret":
        provider.next_header = {"alg": "HS256"}
        provider.next_key = OctKey.import_key(CLIENT_SECRET)
    if attack == "none":
        payload = {"iss": ISSUER, "aud": CLIENT_ID, "sub": "x", "nonce": q["nonce"],
                   "email": "pat@example.com", "email_verified": True,
                   "iat": int(time.time()), "exp": int(time.time()) + 60}  # fmt: skip
        enc = [base64.urlsafe_b64encode(json.dumps(p).encode()).rstrip(b"=").decode()
               for p in ({"alg": "none"}, payload)]  # fmt: skip
        forged = f"{enc[0]}.{enc[1]}."

        async def exchange(code: str, code_verifier: str) -> str:
            return forged

        provider.exchange_code = exchange  # type: ignore[method-assign]
    r = await client.get("/auth/oauth/google/callback", params={"state": q["state"], "code": "c"})
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "oauth_failed"


@pytest.mark.parametrize(
    ("error", "status", "words"),
    [
        ("access_denied", 403, "cancelled or refused"),
        ("temporarily_unavailable", 401, "temporarily unavailable"),
        ("<script>", 401, "(script)"),
    ],
)
async def test_provider_errors_become_clear_messages(
    app_client: tuple[httpx.AsyncClient, FakeProvider], error: str, status: int, words: str
) -> None:
    client, provider = app_client
    q = await start(client, provider)
    r = await client.get(
        "/auth/oauth/google/callback", params={"state": q["state"], "error": error}
    )
    assert r.status_code == status
    assert words in r.json()["error"]["message"] and "<" not in r.json()["error"]["message"]


async def test_response_from_another_issuer_is_refused(
    app_client: tuple[httpx.AsyncClient, FakeProvider],
) -> None:
    client, provider = app_client
    q = await start(client, provider)
    r = await client.get(
        "/auth/oauth/google/callback",
        params={"state": q["state"], "code": "c", "iss": "https://evil.example"},
    )
    assert r.status_code == 401 and provider.exchanged == []


async def test_existing_identity_signs_in_to_the_same_user_and_links_by_email(
    app_client: tuple[httpx.AsyncClient, FakeProvider],
) -> None:
    client, provider = app_client
    registered = await client.post(
        "/auth/register", json={"email": "sam@example.com", "password": STRONG_PASSWORD}
    )
    user_id = registered.json()["user"]["id"]
    ids = []
    for _ in range(2):
        q = await start(client, provider)
        provider.next_claims = {"email": "sam@example.com", "sub": "idp-sam"}
        r = await client.get(
            "/auth/oauth/google/callback", params={"state": q["state"], "code": "c"}
        )
        pair = await client.post(
            "/auth/oauth/exchange", json={"code": r.headers["location"].split("=", 1)[1]}
        )
        me = await client.get("/auth/me", headers=bearer(pair.json()["access_token"]))
        ids.append(me.json()["id"])
    assert ids == [user_id, user_id]
    runtime = client._transport.app.state.runtime  # type: ignore[attr-defined]
    async with runtime.db.sessions() as s:
        rows = (
            await s.execute(select(AuditEvent.action).where(AuditEvent.user_id == user_id))
        ).all()
    actions = [r[0] for r in rows]
    assert actions.count("auth.oauth_link") == 1 and actions.count("auth.login") == 2


async def test_unknown_provider_and_disabled_oauth_answer_404(make_settings: Any) -> None:
    from support.apps import running_app

    settings = await migrated(make_settings())
    async with running_app(create_app(settings)) as client:
        assert (await client.get("/auth/oauth/google/authorize")).status_code == 404
    settings = await migrated(oauth_settings(make_settings))
    async with running_app(create_app(settings)) as client:
        assert (await client.get("/auth/oauth/github/authorize")).status_code == 404


def test_http_issuer_is_refused_outside_development(make_settings: Any) -> None:
    from netra.auth.oidc import issuer_problem

    assert issuer_problem(oauth_settings(make_settings, oauth_issuer="http://idp.local")) is None
    prod = oauth_settings(make_settings, oauth_issuer="http://idp.local", env="production")
    assert issuer_problem(prod) is not None


def test_claim_checks_directly() -> None:
    now = int(time.time())
    good = {"iss": ISSUER, "aud": CLIENT_ID, "sub": "s", "iat": now, "exp": now + 60, "nonce": "n"}
    check_id_token_claims(good, issuer=ISSUER, client_id=CLIENT_ID, nonce="n")
    with pytest.raises(OidcError):
        check_id_token_claims(
            {**good, "nonce": None}, issuer=ISSUER, client_id=CLIENT_ID, nonce="n"
        )
    ident = identity_from_claims(
        {"sub": "s", "email": " Pat@Example.COM", "email_verified": "true"}, ["example.com"]
    )
    assert ident.email == "pat@example.com"
