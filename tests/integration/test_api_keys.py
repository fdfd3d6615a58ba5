"""I12: API keys on PostgreSQL and Redis: created once, stored as a hash, scoped, one
organisation's only, revoked on a second app instance within 2 s, last use recorded."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from netra.apps import all_in_one, api
from netra.core.settings import Settings
from support.accounts import bearer, signup
from support.apps import running_app
from support.services import flush_redis_prefix, new_redis_prefix


@dataclass
class Orgs:
    client: httpx.AsyncClient
    alice: dict[str, str]  # owner of org A
    bob: dict[str, str]  # owner of org B
    settings: Settings


def _settings(pg_url: str, redis_url: str, prefix: str, data_dir: Path, **extra: Any) -> Settings:
    return Settings(
        env="test",
        data_dir=data_dir,
        database_url=pg_url,
        redis_url=redis_url,
        redis_prefix=prefix,
        **extra,
    )


@pytest.fixture(scope="module")
async def orgs(
    pg_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Orgs]:
    prefix = new_redis_prefix()
    settings = _settings(pg_url, redis_url, prefix, tmp_path_factory.mktemp("keys"))
    async with running_app(all_in_one.create_app(settings)) as client:
        a = await signup(client, org_name="Keys A")
        b = await signup(client, org_name="Keys B")
        # These tests make many keys: the largest tier, signed in again to carry it.
        engine = create_async_engine(settings.effective_database_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("UPDATE organisations SET tier = 'enterprise' "
                                        "WHERE name IN ('Keys A', 'Keys B')"))  # fmt: skip
        finally:
            await engine.dispose()
        tokens = []
        for account in (a, b):
            login = {"email": account["email"], "password": account["password"]}
            tokens.append((await client.post("/auth/login", json=login)).json()["access_token"])
        yield Orgs(client, bearer(tokens[0]), bearer(tokens[1]), settings)
    flush_redis_prefix(redis_url, prefix)


async def new_key(orgs: Orgs, owner: dict[str, str], *scopes: str) -> dict[str, Any]:
    r = await orgs.client.post(
        "/api/v1/api-keys", json={"name": f"ci {' '.join(scopes)}", "scopes": list(scopes)},
        headers=owner,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return dict(r.json())


def record(i: int, tag: str) -> dict[str, Any]:
    when = datetime.now(UTC) - timedelta(hours=1 + i)
    return {
        "timestamp": when.isoformat(),
        "provider": "openai",
        "model": "gpt-4o-mini",
        "input_tokens": 100 + i,
        "output_tokens": 10,
        "request_id": f"{tag}-{i}",
    }


async def test_a_key_is_shown_once_and_stored_only_as_its_hash(orgs: Orgs) -> None:
    created = await new_key(orgs, orgs.alice, "usage:write", "usage:read")
    key = created["key"]
    assert key.startswith("nk_") and len(key) >= 40
    assert set(created) == {"id", "name", "prefix", "scopes", "created_at", "key"}
    assert key.startswith(created["prefix"]) and len(created["prefix"]) < len(key) // 2
    assert created["scopes"] == ["usage:write", "usage:read"]

    listed = (await orgs.client.get("/api/v1/api-keys", headers=orgs.alice)).json()["api_keys"]
    mine = next(k for k in listed if k["id"] == created["id"])
    assert set(mine) == {
        "id", "name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"
    }  # fmt: skip
    assert mine["revoked_at"] is None and key not in str(listed)

    engine = create_async_engine(orgs.settings.effective_database_url)
    try:
        async with engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        text("SELECT * FROM api_keys WHERE id = :id"), {"id": created["id"]}
                    )
                )
                .mappings()
                .one()
            )
    finally:
        await engine.dispose()
    assert key not in str(dict(row)).replace(created["prefix"], "")
    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()


async def test_an_organisation_holds_at_most_its_tiers_active_keys(orgs: Orgs) -> None:
    owner = bearer((await signup(orgs.client, org_name="Keys free tier"))["access_token"])
    made = [await new_key(orgs, owner, "usage:read") for _ in range(5)]  # free: 5
    r = await orgs.client.post(
        "/api/v1/api-keys", json={"name": "sixth", "scopes": ["usage:read"]}, headers=owner
    )
    assert r.status_code == 403, r.text
    assert "5 active API keys" in r.json()["error"]["message"]
    r = await orgs.client.delete(f"/api/v1/api-keys/{made[0]['id']}", headers=owner)
    assert r.status_code == 200
    await new_key(orgs, owner, "usage:read")  # a revoked key frees its place


async def test_only_owners_and_admins_manage_keys(orgs: Orgs) -> None:
    account = await signup(orgs.client, org_name="Keys members")
    engine = create_async_engine(orgs.settings.effective_database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE users SET role = 'member' WHERE email = :email"),
                {"email": account["email"]},
            )
    finally:
        await engine.dispose()
    login = {"email": account["email"], "password": account["password"]}
    member = bearer((await orgs.client.post("/auth/login", json=login)).json()["access_token"])
    body = {"name": "mine", "scopes": ["usage:write"]}
    assert (
        await orgs.client.post("/api/v1/api-keys", json=body, headers=member)
    ).status_code == 403
    assert (await orgs.client.get("/api/v1/api-keys", headers=member)).status_code == 403


async def test_bad_requests_for_keys_are_refused_clearly(orgs: Orgs) -> None:
    r = await orgs.client.post(
        "/api/v1/api-keys", json={"name": "x", "scopes": ["webhooks:write"]}, headers=orgs.alice
    )
    assert r.status_code == 422
    assert "webhooks:write" in r.json()["error"]["message"]
    r = await orgs.client.post(
        "/api/v1/api-keys", json={"name": "x", "scopes": []}, headers=orgs.alice
    )
    assert r.status_code == 422
    r = await orgs.client.post("/api/v1/api-keys", json={"scopes": ["usage:read"]})
    assert r.status_code == 401
    r = await orgs.client.delete("/api/v1/api-keys/nope", headers=orgs.alice)
    assert r.status_code == 404


async def test_scopes_decide_what_a_key_reaches(orgs: Orgs) -> None:
    writer = bearer((await new_key(orgs, orgs.alice, "usage:write"))["key"])
    reader = bearer((await new_key(orgs, orgs.alice, "usage:read"))["key"])
    analyst = bearer((await new_key(orgs, orgs.alice, "analysis:run", "usage:read"))["key"])
    c = orgs.client

    r = await c.post("/api/v1/usage", json={"records": [record(0, "scope")]}, headers=writer)
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    row = record(1, "scope-upload")
    upload = ",".join(row) + "\n" + ",".join(str(v) for v in row.values()) + "\n"
    r = await c.post(
        "/api/v1/usage/upload", files={"file": ("usage.csv", upload, "text/csv")}, headers=writer
    )
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    assert (await c.get("/api/v1/usage/summary", headers=writer)).status_code == 403
    assert (await c.post("/api/v1/analyses", json={}, headers=writer)).status_code == 403

    assert (await c.get("/api/v1/usage/summary", headers=reader)).status_code == 200
    r = await c.post("/api/v1/usage", json={"records": [record(1, "scope")]}, headers=reader)
    assert r.status_code == 403

    r = await c.post("/api/v1/analyses", json={}, headers=analyst)
    assert r.status_code == 201, r.text
    r = await c.get(f"/api/v1/analyses/{r.json()['id']}", headers=analyst)
    assert r.status_code == 200

    # Never keys, members, budgets, webhooks, chat or the profile, whatever the key holds.
    everything = bearer(
        (await new_key(orgs, orgs.alice, "usage:write", "usage:read", "analysis:run"))["key"]
    )
    refused = [
        ("POST", "/api/v1/api-keys", {"name": "k", "scopes": ["usage:read"]}),
        ("GET", "/api/v1/api-keys", None),
        ("POST", "/api/v1/webhooks", {"url": "https://example.com/h", "events": ["budget.alert"]}),
        ("GET", "/api/v1/webhooks", None),
        ("POST", "/api/v1/budgets", {"scope": "org", "period": "day", "limit_usd": 5}),
        ("GET", "/api/v1/budgets", None),
        ("GET", "/api/v1/threads", None),
        ("POST", "/api/v1/threads", {"title": "t"}),
        ("GET", "/auth/me", None),
    ]
    for method, path, body in refused:
        r = await c.request(method, path, json=body, headers=everything)
        assert r.status_code == 403, (method, path, r.status_code, r.text)
        assert r.json()["error"]["code"] == "forbidden"


async def test_a_key_acts_for_its_own_organisation_only(orgs: Orgs) -> None:
    a_writer = bearer((await new_key(orgs, orgs.alice, "usage:write", "usage:read"))["key"])
    b_reader = bearer((await new_key(orgs, orgs.bob, "usage:read", "analysis:run"))["key"])
    c = orgs.client
    tag = f"iso-{time.time_ns()}"
    rows = [record(i, tag) | {"feature": tag} for i in range(5)]
    r = await c.post("/api/v1/usage", json={"records": rows}, headers=a_writer)
    assert r.json()["accepted"] == 5

    def features(body: dict[str, Any]) -> set[str]:
        return {g["key"] for g in body["groups"]}

    params = {"group_by": "feature"}
    seen_a = (await c.get("/api/v1/usage/summary", params=params, headers=a_writer)).json()
    assert tag in features(seen_a)
    seen_b = (await c.get("/api/v1/usage/summary", params=params, headers=b_reader)).json()
    assert tag not in features(seen_b)
    # B's key cannot read A's stored analysis either.
    report = await c.post("/api/v1/analyses", json={}, headers=orgs.alice)
    r = await c.get(f"/api/v1/analyses/{report.json()['id']}", headers=b_reader)
    assert r.status_code == 404


async def test_unknown_and_malformed_keys_get_401(orgs: Orgs) -> None:
    created = await new_key(orgs, orgs.alice, "usage:read")
    forged = created["key"][:-4] + ("aaaa" if not created["key"].endswith("aaaa") else "bbbb")
    for key in (forged, "nk_", "nk_" + "x" * 500, "nk_short"):
        r = await orgs.client.get("/api/v1/usage/summary", headers=bearer(key))
        assert r.status_code == 401, (key, r.text)
        assert key not in r.text or key == "nk_"


async def test_last_use_is_recorded_without_a_write_per_request(orgs: Orgs) -> None:
    created = await new_key(orgs, orgs.alice, "usage:read")
    for _ in range(20):
        r = await orgs.client.get("/api/v1/usage/summary", headers=bearer(created["key"]))
        assert r.status_code == 200

    deadline = time.monotonic() + 10
    used = None
    while used is None and time.monotonic() < deadline:
        listed = (await orgs.client.get("/api/v1/api-keys", headers=orgs.alice)).json()
        used = next(k for k in listed["api_keys"] if k["id"] == created["id"])["last_used_at"]
        if used is None:
            await asyncio.sleep(0.05)
    assert used is not None
    assert abs(datetime.fromisoformat(used) - datetime.now(UTC)) < timedelta(minutes=1)


async def test_a_revoked_key_is_refused_by_a_second_instance_within_two_seconds(
    orgs: Orgs, pg_url: str, redis_url: str
) -> None:
    created = await new_key(orgs, orgs.alice, "usage:read")
    key = bearer(created["key"])
    # A second replica on the same PostgreSQL and Redis: the scaled-out backend (`netra api`,
    # which verifies keys against the database itself), with a cache long enough that only
    # the bus message can make it forget the key in time.
    second = _settings(
        pg_url, redis_url, orgs.settings.redis_prefix, orgs.settings.data_dir,
        api_key_cache_ttl_s=600,
    )  # fmt: skip
    async with running_app(api.create_app(second)) as other:
        assert (await other.get("/api/v1/usage/summary", headers=key)).status_code == 200
        assert (await other.get("/api/v1/usage/summary", headers=key)).status_code == 200

        r = await orgs.client.delete(f"/api/v1/api-keys/{created['id']}", headers=orgs.alice)
        assert r.status_code == 200 and r.json()["revoked_at"] is not None
        revoked_at = time.monotonic()
        status = 200
        while status != 401 and time.monotonic() - revoked_at < 2:
            status = (await other.get("/api/v1/usage/summary", headers=key)).status_code
            if status != 401:
                await asyncio.sleep(0.02)
        assert status == 401, "the second instance still accepts the revoked key after 2 s"
        r = await orgs.client.get("/api/v1/usage/summary", headers=key)
        assert r.status_code == 401 and r.json()["error"]["message"] == "API key revoked"

    listed = (await orgs.client.get("/api/v1/api-keys", headers=orgs.alice)).json()
    assert next(k for k in listed["api_keys"] if k["id"] == created["id"])["revoked_at"]

    # Both changes are in the audit log: who, what, when, from where.
    query = text(
        "SELECT action, user_id, org_id, ip, details FROM audit_events "
        "WHERE action LIKE 'api_key.%' ORDER BY created_at"
    )
    engine = create_async_engine(orgs.settings.effective_database_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
    finally:
        await engine.dispose()
    mine = [r for r in rows if str(created["id"]) in str(r["details"])]
    assert [r["action"] for r in mine] == ["api_key.create", "api_key.revoke"]
    assert all(r["user_id"] and r["org_id"] and r["ip"] for r in mine)
    assert created["key"] not in str(rows)
