"""I1: sign-in sessions in PostgreSQL: refresh families stored hashed, rotation, reuse detection,
expiry, concurrent refreshes of one token (exactly one wins, across two app instances), and
tenants kept apart."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from netra.apps.auth_service import create_app
from netra.auth.models import RefreshFamily, RefreshToken
from netra.core.db import utcnow
from support.accounts import bearer, signup
from support.apps import running_app


@pytest.fixture
async def pair(pg_settings: Any) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Two instances of the auth service on one PostgreSQL database and one Redis."""
    settings = pg_settings(jwt_algorithm="HS256", jwt_secret="i1-" + "5e" * 20)
    async with running_app(create_app(settings)) as a, running_app(create_app(settings)) as b:
        yield a, b


def db_of(client: httpx.AsyncClient) -> Any:
    return client._transport.app.state.runtime.db  # type: ignore[attr-defined]


async def test_refresh_tokens_are_stored_hashed_in_families(
    pair: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    a, _ = pair
    acct = await signup(a)
    async with db_of(a).sessions() as s:
        fam = (
            await s.execute(
                select(RefreshFamily).where(RefreshFamily.user_id == acct["user"]["id"])
            )
        ).scalar_one()
        tokens = (
            (await s.execute(select(RefreshToken).where(RefreshToken.family_id == fam.id)))
            .scalars()
            .all()
        )
    assert fam.org_id == acct["user"]["org_id"] and fam.revoked_at is None
    assert [t.token_hash for t in tokens] == [
        hashlib.sha256(acct["refresh_token"].encode()).hexdigest()
    ]


async def test_rotation_and_reuse_detection_across_instances(
    pair: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    a, b = pair
    acct = await signup(a)
    rotated = await b.post("/auth/refresh", json={"refresh_token": acct["refresh_token"]})
    assert rotated.status_code == 200
    newer = rotated.json()
    assert (await a.get("/auth/me", headers=bearer(newer["access_token"]))).status_code == 200
    again = await a.post("/auth/refresh", json={"refresh_token": newer["refresh_token"]})
    assert again.status_code == 200
    # The first token comes back (stolen copy): the family dies, on both instances.
    reuse = await a.post("/auth/refresh", json={"refresh_token": acct["refresh_token"]})
    assert reuse.status_code == 401
    latest = again.json()
    dead = await b.post("/auth/refresh", json={"refresh_token": latest["refresh_token"]})
    assert dead.status_code == 401
    assert (await b.get("/auth/me", headers=bearer(latest["access_token"]))).status_code == 401
    async with db_of(a).sessions() as s:
        fam = (
            await s.execute(
                select(RefreshFamily).where(RefreshFamily.user_id == acct["user"]["id"])
            )
        ).scalar_one()
    assert fam.revoked_reason == "reuse"


async def test_expired_refresh_token_is_refused(
    pair: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    a, _ = pair
    acct = await signup(a)
    digest = hashlib.sha256(acct["refresh_token"].encode()).hexdigest()
    async with db_of(a).unit_of_work() as s:
        await s.execute(
            update(RefreshToken)
            .where(RefreshToken.token_hash == digest)
            .values(expires_at=utcnow())
        )
    r = await a.post("/auth/refresh", json={"refresh_token": acct["refresh_token"]})
    assert r.status_code == 401


async def test_concurrent_refreshes_of_one_token_exactly_one_wins(
    pair: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    a, b = pair
    acct = await signup(a)
    body = {"refresh_token": acct["refresh_token"]}
    answers = await asyncio.gather(
        *(client.post("/auth/refresh", json=body) for client in [a, b] * 6)
    )
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] + [401] * 11, codes
    digest = hashlib.sha256(acct["refresh_token"].encode()).hexdigest()
    async with db_of(a).sessions() as s:
        used = (
            await s.execute(select(RefreshToken).where(RefreshToken.token_hash == digest))
        ).scalar_one()
        children = (
            await s.execute(
                select(RefreshToken).where(
                    RefreshToken.family_id == used.family_id, RefreshToken.id != used.id
                )
            )
        ).all()
    assert used.used_at is not None
    assert len(children) == 1  # one rotation happened, not two


async def test_tenants_never_see_each_others_sessions(
    pair: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    a, b = pair
    ann = await signup(a, org_name="Ann Co")
    bob = await signup(b, org_name="Bob Co")
    assert ann["user"]["org_id"] != bob["user"]["org_id"]
    refreshed = await a.post("/auth/refresh", json={"refresh_token": bob["refresh_token"]})
    me = (await a.get("/auth/me", headers=bearer(refreshed.json()["access_token"]))).json()
    assert (me["id"], me["org_id"]) == (bob["user"]["id"], bob["user"]["org_id"])
    await a.post("/auth/logout", headers=bearer(ann["access_token"]))
    assert (await b.get("/auth/me", headers=bearer(ann["access_token"]))).status_code == 401
    still = await b.get("/auth/me", headers=bearer(refreshed.json()["access_token"]))
    assert still.status_code == 200 and still.json()["org_name"] == "Bob Co"
