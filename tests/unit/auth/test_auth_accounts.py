"""Accounts over HTTP on the auth service app: sign-up, login, /auth/me, refresh, logout."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from netra.apps.auth_service import create_app
from netra.auth.models import User
from netra.auth.passwords import Passwords
from netra.auth.service import create_account
from netra.auth.state import AUTH
from netra.core.audit import AuditEvent
from netra.core.runtime import Runtime
from support.accounts import STRONG_PASSWORD, bearer, migrated, new_email, signup
from support.apps import running_app


@pytest.fixture
async def client(make_settings) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    async with running_app(create_app(await migrated(make_settings()))) as c:
        yield c


def runtime_of(client: httpx.AsyncClient) -> Runtime:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    return transport.app.state.runtime  # type: ignore[attr-defined,no-any-return]


async def audit_actions(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    from sqlalchemy import select

    async with runtime_of(client).db.sessions() as s:
        rows = (await s.execute(select(AuditEvent).order_by(AuditEvent.created_at))).scalars()
        return [(r.action, r.outcome) for r in rows]


async def test_register_creates_owner_of_a_free_organisation(client: httpx.AsyncClient) -> None:
    email = new_email()
    r = await client.post(
        "/auth/register",
        json={
            "email": email.upper(),
            "password": STRONG_PASSWORD,
            "name": "Ann",
            "org_name": "Acme",
        },
    )
    assert r.status_code == 201, r.text
    user = r.json()["user"]
    assert user["email"] == email  # stored lower-cased
    assert (user["org_name"], user["tier"], user["role"]) == ("Acme", "free", "owner")
    assert "org:admin" in user["permissions"]
    async with runtime_of(client).db.sessions() as s:
        stored = await s.get(User, user["id"])
        assert stored is not None and stored.password_hash is not None
        assert (
            stored.password_hash.startswith("$argon2id$")
            and STRONG_PASSWORD not in stored.password_hash
        )
    assert ("auth.signup", "success") in await audit_actions(client)


async def test_login_me_and_token_shape(client: httpx.AsyncClient) -> None:
    acct = await signup(client, name="Bo")
    me = await client.get("/auth/me", headers=bearer(acct["access_token"]))
    assert me.status_code == 200
    assert me.json() == acct["user"]
    login = await client.post(
        "/auth/login", json={"email": acct["email"], "password": acct["password"]}
    )
    body = login.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 900
    assert body["refresh_token"] != acct["refresh_token"]


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short-Pw1!", "at least 12"),
        ("x" * 200 + "Aa1!" * 20, "at most 256"),
        ("Password2024!", "too common"),
        ("qwerty123456", "too common"),
        ("aaaaaaaaaaaaaaab", "repetitive"),
    ],
)
async def test_register_refuses_weak_passwords(
    client: httpx.AsyncClient, password: str, message: str
) -> None:
    r = await client.post("/auth/register", json={"email": new_email(), "password": password})
    assert r.status_code == 422
    assert message in r.json()["error"]["message"]


async def test_register_refuses_bad_email_and_taken_email(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/auth/register", json={"email": "not-an-email", "password": STRONG_PASSWORD}
    )
    assert r.status_code == 422
    acct = await signup(client)
    again = await client.post(
        "/auth/register", json={"email": acct["email"], "password": STRONG_PASSWORD}
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"


async def test_unknown_email_and_wrong_password_answer_alike(client: httpx.AsyncClient) -> None:
    acct = await signup(client)
    wrong = await client.post(
        "/auth/login", json={"email": acct["email"], "password": "nope-nope-nope"}
    )
    unknown = await client.post(
        "/auth/login", json={"email": new_email(), "password": "nope-nope-nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert ("auth.login", "failure") in await audit_actions(client)


async def test_refresh_rotates_and_reuse_revokes_the_family(client: httpx.AsyncClient) -> None:
    acct = await signup(client)
    first = await client.post("/auth/refresh", json={"refresh_token": acct["refresh_token"]})
    assert first.status_code == 200
    second = first.json()
    assert second["refresh_token"] != acct["refresh_token"]
    reuse = await client.post("/auth/refresh", json={"refresh_token": acct["refresh_token"]})
    assert reuse.status_code == 401
    # The thief's replay killed the legitimate holder's newer token too.
    after = await client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert after.status_code == 401
    # ... and the access tokens of the user issued so far.
    me = await client.get("/auth/me", headers=bearer(second["access_token"]))
    assert me.status_code == 401
    assert ("auth.refresh_reuse", "failure") in await audit_actions(client)


async def test_unknown_refresh_token_is_refused(client: httpx.AsyncClient) -> None:
    r = await client.post("/auth/refresh", json={"refresh_token": "made-up-token"})
    assert r.status_code == 401
    r = await client.post("/auth/refresh", json={})
    assert r.status_code == 401


async def test_logout_revokes_access_token_and_refresh_family(client: httpx.AsyncClient) -> None:
    acct = await signup(client)
    out = await client.post("/auth/logout", headers=bearer(acct["access_token"]))
    assert out.status_code == 204
    assert (await client.get("/auth/me", headers=bearer(acct["access_token"]))).status_code == 401
    r = await client.post("/auth/refresh", json={"refresh_token": acct["refresh_token"]})
    assert r.status_code == 401
    assert ("auth.logout", "success") in await audit_actions(client)


async def test_create_account_service_for_loaders(client: httpx.AsyncClient) -> None:
    async with runtime_of(client).db.unit_of_work() as s:
        user, org = await create_account(
            s, email=new_email(), password=STRONG_PASSWORD, tier="enterprise", org_name="Big"
        )
        member, same_org = await create_account(
            s, email=new_email(), password=None, role="member", org_id=org.id
        )
    assert org.tier == "enterprise" and same_org.id == org.id and member.password_hash is None
    login = await client.post(
        "/auth/login", json={"email": user.email, "password": STRONG_PASSWORD}
    )
    assert login.status_code == 200
    me = (await client.get("/auth/me", headers=bearer(login.json()["access_token"]))).json()
    assert (me["tier"], me["org_name"]) == ("enterprise", "Big")


async def test_login_rehashes_when_parameters_change(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = await migrated(make_settings(argon2_time_cost=3))
    async with running_app(create_app(settings)) as client:
        old = Passwords(time_cost=2)
        async with runtime_of(client).db.unit_of_work() as s:
            user, _ = await create_account(
                s, email=new_email(), password=STRONG_PASSWORD, passwords=old
            )
        assert "t=2" in (user.password_hash or "")
        r = await client.post(
            "/auth/login", json={"email": user.email, "password": STRONG_PASSWORD}
        )
        assert r.status_code == 200
        async with runtime_of(client).db.sessions() as s:
            stored: Any = await s.get(User, user.id)
            assert "t=3" in stored.password_hash


async def test_disabled_account_loses_access_and_cannot_sign_in(client: httpx.AsyncClient) -> None:
    acct = await signup(client)
    runtime = runtime_of(client)
    async with runtime.bus.subscribe("revocations") as sub:
        await runtime.services[AUTH].disable_account(acct["user"]["id"])
        message = await sub.get()
    assert message is not None and b'"all": true' in message
    assert (await client.get("/auth/me", headers=bearer(acct["access_token"]))).status_code == 401
    r = await client.post("/auth/refresh", json={"refresh_token": acct["refresh_token"]})
    assert r.status_code == 401
    r = await client.post(
        "/auth/login", json={"email": acct["email"], "password": acct["password"]}
    )
    assert r.status_code == 401 and r.json()["error"]["message"] == "invalid e-mail or password"
