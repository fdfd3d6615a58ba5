"""Refusals of the auth service: throttling, introspection credential, revocation (fail closed
and fanned out on the bus), enumeration resistance, and the I6 configuration comparison."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from netra.apps.auth_service import create_app
from netra.auth.deps import VERIFIER
from netra.auth.revocation import (
    REVOCATIONS_CHANNEL,
    is_revoked,
    revoke_token,
    revoke_user_tokens,
)
from netra.auth.state import AUTH
from netra.auth.wellknown import configuration_differences
from netra.core.cache import MemoryCache
from netra.core.errors import DependencyUnavailable
from support.accounts import bearer, migrated, new_email, signup
from support.apps import running_app

SERVICE_TOKEN = "svc-7c1e2b9a4d8f6e3c5a0b1d2e3f4a5b6c7d8e9f0a"


@pytest.fixture
async def client(make_settings) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    settings = await migrated(
        make_settings(login_max_failures=3, login_ip_max_failures=6, service_token=SERVICE_TOKEN)
    )
    async with running_app(create_app(settings)) as c:
        yield c


def runtime_of(client: httpx.AsyncClient) -> Any:
    return client._transport.app.state.runtime  # type: ignore[attr-defined]


async def login(
    client: httpx.AsyncClient, email: str, password: str, ip: str = ""
) -> httpx.Response:
    return await client.post("/auth/login", json={"email": email, "password": password})


async def test_repeated_failures_lock_the_account_with_retry_after(
    client: httpx.AsyncClient,
) -> None:
    acct = await signup(client)
    for _ in range(3):
        assert (await login(client, acct["email"], "wrong-password-1")).status_code == 401
    locked = await login(client, acct["email"], acct["password"])  # even the right password
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    assert locked.json()["error"]["code"] == "rate_limited"


async def test_unknown_email_locks_exactly_like_a_real_one(client: httpx.AsyncClient) -> None:
    ghost = new_email("ghost")
    answers = [(await login(client, ghost, "wrong-password-1")).status_code for _ in range(4)]
    assert answers == [401, 401, 401, 429]


async def test_success_resets_the_account_counter(client: httpx.AsyncClient) -> None:
    acct = await signup(client)
    for _ in range(2):
        await login(client, acct["email"], "wrong-password-1")
    assert (await login(client, acct["email"], acct["password"])).status_code == 200
    for _ in range(2):
        assert (await login(client, acct["email"], "wrong-password-1")).status_code == 401


async def test_one_address_spraying_many_accounts_is_throttled(client: httpx.AsyncClient) -> None:
    # Two failures each on four accounts: under the account limit, over the address limit (6).
    codes = []
    for _ in range(4):
        email = new_email("spray")
        codes += [(await login(client, email, "wrong-password-1")).status_code for _ in range(2)]
    assert codes[:6] == [401] * 6 and codes[6:] == [429, 429]


async def test_introspection_needs_the_service_credential(client: httpx.AsyncClient) -> None:
    acct = await signup(client)
    body = {"token": acct["access_token"]}
    assert (await client.post("/auth/introspect", json=body)).status_code == 401
    wrong = await client.post("/auth/introspect", json=body, headers=bearer("x" * 44))
    assert wrong.status_code == 401
    user_token = await client.post(
        "/auth/introspect", json=body, headers=bearer(acct["access_token"])
    )
    assert user_token.status_code == 401
    ok = await client.post("/auth/introspect", json=body, headers=bearer(SERVICE_TOKEN))
    assert ok.status_code == 200
    data = ok.json()
    assert data["active"] is True and data["sub"] == acct["user"]["id"]
    assert data["org_id"] == acct["user"]["org_id"] and data["role"] == "owner"
    assert "org:admin" in data["permissions"] and data["exp"] > 0


async def test_introspection_reports_revoked_and_bogus_tokens_inactive(
    client: httpx.AsyncClient,
) -> None:
    acct = await signup(client)
    await client.post("/auth/logout", headers=bearer(acct["access_token"]))
    for token in (acct["access_token"], "not.a.jwt"):
        r = await client.post(
            "/auth/introspect", json={"token": token}, headers=bearer(SERVICE_TOKEN)
        )
        assert r.json() == {"active": False}


async def test_logout_publishes_the_revocation_on_the_bus(client: httpx.AsyncClient) -> None:
    acct = await signup(client)
    bus = runtime_of(client).bus
    async with bus.subscribe(REVOCATIONS_CHANNEL) as sub:
        await client.post("/auth/logout", headers=bearer(acct["access_token"]))
        by_session = json.loads(await asyncio.wait_for(sub.get(), 2))
        by_token = json.loads(await asyncio.wait_for(sub.get(), 2))
    # The whole sign-in session (sockets of earlier tokens of it close too), then the token.
    assert by_session["user_id"] == by_token["user_id"] == acct["user"]["id"]
    assert by_session["sid"] and by_session["jti"] is None and by_session["all"] is False
    assert by_token["jti"] and by_token["all"] is False


async def test_refresh_reuse_publishes_revocation_of_all_the_users_tokens(
    client: httpx.AsyncClient,
) -> None:
    acct = await signup(client)
    await client.post("/auth/refresh", json={"refresh_token": acct["refresh_token"]})
    async with runtime_of(client).bus.subscribe(REVOCATIONS_CHANNEL) as sub:
        await client.post("/auth/refresh", json={"refresh_token": acct["refresh_token"]})
        by_session = json.loads(await asyncio.wait_for(sub.get(), 2))
        message = json.loads(await asyncio.wait_for(sub.get(), 2))
    assert by_session["sid"] and by_session["all"] is False
    assert message == {"jti": None, "sid": None, "user_id": acct["user"]["id"], "all": True}


class BrokenCache(MemoryCache):
    async def get(self, key: str) -> bytes | None:
        raise ConnectionError("redis is down")

    async def incr(self, key: str, ttl_s: float | None = None, by: int = 1) -> int:
        raise ConnectionError("redis is down")


class BrokenDatabase:
    """A database that cannot be reached: every session fails."""

    def sessions(self) -> Any:
        raise ConnectionRefusedError("database is down")


async def test_revocation_check_fails_closed(client: httpx.AsyncClient) -> None:
    with pytest.raises(DependencyUnavailable):
        await is_revoked(BrokenDatabase(), "jti-1", user_id="u1", iat=1)  # type: ignore[arg-type]
    db = runtime_of(client).db
    await revoke_token(db, "jti-1", exp=2**31)
    assert await is_revoked(db, "jti-1") and not await is_revoked(db, "jti-2")


async def test_a_user_cutoff_covers_tokens_issued_until_then_only(
    client: httpx.AsyncClient,
) -> None:
    db = runtime_of(client).db
    await revoke_user_tokens(db, "u1", ttl_s=900)
    now = int(time.time())
    assert await is_revoked(db, "any", user_id="u1", iat=now - 5)
    assert not await is_revoked(db, "any", user_id="u1", iat=now + 5)
    assert not await is_revoked(db, "any", user_id="u2", iat=now - 5)


async def test_requests_are_refused_when_revocation_cannot_be_checked(
    client: httpx.AsyncClient,
) -> None:
    acct = await signup(client)
    runtime = runtime_of(client)
    verifier = runtime.services[VERIFIER]
    healthy, verifier.db = verifier.db, BrokenDatabase()
    try:
        r = await client.get("/auth/me", headers=bearer(acct["access_token"]))
        assert r.status_code == 503
        r = await client.post(
            "/auth/introspect", json={"token": acct["access_token"]}, headers=bearer(SERVICE_TOKEN)
        )
        assert r.status_code == 503
    finally:
        verifier.db = healthy


async def test_login_is_refused_when_the_throttle_cannot_count(client: httpx.AsyncClient) -> None:
    acct = await signup(client)
    throttle = runtime_of(client).services[AUTH].throttle
    healthy, throttle.cache = throttle.cache, BrokenCache()
    try:
        r = await login(client, acct["email"], acct["password"])
        assert r.status_code == 503
    finally:
        throttle.cache = healthy


def test_configuration_differences_name_each_setting() -> None:
    mine = {"issuer": "a", "audience": "api", "algorithm": "Ed25519", "key_ids": ["k1"]}
    assert configuration_differences(mine, dict(mine)) == []
    theirs = {"issuer": "b", "audience": "api", "algorithm": "RS256", "key_ids": ["k2"]}
    problems = configuration_differences(mine, theirs)
    assert len(problems) == 3
    assert any("NETRA_JWT_ISSUER" in p for p in problems)
    assert any("NETRA_JWT_ALGORITHM" in p for p in problems)
    assert any("signing keys differ" in p for p in problems)


async def test_unknown_email_costs_one_password_verification(client: httpx.AsyncClient) -> None:
    """No account enumeration by timing: an unknown address still runs argon2 once."""
    passwords = runtime_of(client).services[AUTH].passwords
    calls: list[str | None] = []
    original = passwords.verify_sync

    def counting(password_hash: str | None, password: str) -> bool:
        calls.append(password_hash)
        return bool(original(password_hash, password))

    passwords.verify_sync = counting
    try:
        await login(client, new_email("nobody"), "wrong-password-1")
    finally:
        passwords.verify_sync = original
    assert calls == [None]
