"""API key verification logic, with a fake database: hashing and scopes, the per-replica cache
and its invalidation, ``last_used_at`` coalescing, failing closed."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from netra.auth import api_keys
from netra.auth.api_key_verifier import ApiKeyVerifier
from netra.auth.models import ApiKey
from netra.core.bus import MemoryBus
from netra.core.cache import MemoryCache
from netra.core.errors import DependencyUnavailable, Unauthenticated, ValidationFailed


class _Result:
    def __init__(self, rows: list[tuple[ApiKey, str]]) -> None:
        self.rows = rows

    def all(self) -> list[tuple[ApiKey, str]]:
        return self.rows


class FakeDb:
    """Holds key rows; counts the look-ups and the ``last_used_at`` writes."""

    def __init__(self) -> None:
        self.keys: list[ApiKey] = []
        self.lookups = 0
        self.writes = 0
        self.down = False

    def add(self, *scopes: str, org: str = "org-a") -> str:
        key = api_keys.new_key()
        self.keys.append(
            ApiKey(
                id=f"k{len(self.keys)}",
                org_id=org,
                name="k",
                prefix=api_keys.key_prefix(key),
                key_hash=api_keys.key_hash(key),
                scopes=list(scopes),
            )
        )
        return key

    @asynccontextmanager
    async def sessions(self) -> AsyncIterator[Any]:
        if self.down:
            raise ConnectionError("database unreachable")
        db = self

        class Session:
            async def execute(self, stmt: Any) -> _Result:
                db.lookups += 1
                prefix = stmt.compile().params["prefix_1"]
                return _Result([(k, "mid") for k in db.keys if k.prefix == prefix])

        yield Session()

    async def run(self, work: Callable[[Any], Any]) -> None:
        self.writes += 1


async def verifier(db: FakeDb, bus: MemoryBus, **kwargs: Any) -> ApiKeyVerifier:
    settings = {"cache_ttl_s": 60.0, "touch_interval_s": 60.0} | kwargs
    v = ApiKeyVerifier(db, bus, **settings)  # type: ignore[arg-type]
    await v.start()
    return v


def test_keys_are_random_prefixed_and_hashed_with_sha256() -> None:
    one, two = api_keys.new_key(), api_keys.new_key()
    assert one != two and one.startswith("nk_") and len(one) == 43
    assert api_keys.key_hash(one) == hashlib.sha256(one.encode()).hexdigest()
    assert api_keys.key_prefix(one) == one[:11]
    assert api_keys.is_api_key(one) and not api_keys.is_api_key("eyJhbGciOi.x.y")
    assert not api_keys.well_formed("nk_short") and not api_keys.well_formed("nk_" + "é" * 20)


def test_scopes_are_checked_and_ordered() -> None:
    assert api_keys.check_scopes(["usage:read", "usage:write", "usage:read"]) == [
        "usage:write",
        "usage:read",
    ]
    with pytest.raises(ValidationFailed, match="webhooks:write"):
        api_keys.check_scopes(["usage:read", "webhooks:write"])
    with pytest.raises(ValidationFailed, match="at least one"):
        api_keys.check_scopes([])


async def test_a_key_becomes_an_api_key_principal_with_its_scopes_only() -> None:
    db, bus = FakeDb(), MemoryBus()
    key = db.add("usage:write")
    v = await verifier(db, bus)
    ctx = await v.verify(key, request_id="r1")
    assert (ctx.kind, ctx.org_id, ctx.user_id, ctx.tier) == ("api_key", "org-a", "k0", "mid")
    assert ctx.permissions == frozenset({"usage:write"}) and ctx.request_id == "r1"
    assert ctx.can("usage:write") and not ctx.can("usage:read")
    await v.stop()


async def test_unknown_revoked_and_malformed_keys_are_refused() -> None:
    db, bus = FakeDb(), MemoryBus()
    key = db.add("usage:read")
    v = await verifier(db, bus)
    with pytest.raises(Unauthenticated, match="invalid"):
        await v.verify(key[:-1] + ("A" if key[-1] != "A" else "B"))  # same prefix, wrong key
    with pytest.raises(Unauthenticated, match="invalid"):
        await v.verify("nk_" + "a" * 400)
    db.keys[0].revoked_at = datetime.now(UTC)
    with pytest.raises(Unauthenticated, match="revoked"):
        await v.verify(key)
    await v.stop()


async def test_verified_keys_are_cached_until_a_revocation_arrives_on_the_bus() -> None:
    db, bus = FakeDb(), MemoryBus()
    key = db.add("usage:read")
    v = await verifier(db, bus)
    for _ in range(5):
        await v.verify(key)
    assert db.lookups == 1
    db.keys[0].revoked_at = datetime.now(UTC)
    await api_keys.publish_key_revocation(bus, "k0")
    for _ in range(100):  # the listener task takes the message on its next turn
        if not v._cache:
            break
        await asyncio.sleep(0.01)
    with pytest.raises(Unauthenticated, match="revoked"):
        await v.verify(key)
    await v.stop()


async def test_the_cache_expires_and_is_bypassed_while_not_listening() -> None:
    db, bus = FakeDb(), MemoryBus()
    key = db.add("usage:read")
    v = await verifier(db, bus, cache_ttl_s=0.0)
    await v.verify(key)
    await v.verify(key)
    assert db.lookups == 2  # TTL 0: every call reads the database
    await v.stop()

    v = await verifier(db, bus)
    v.listening.clear()  # e.g. the bus reconnecting: a revocation could be missed
    db.lookups = 0
    await v.verify(key)
    await v.verify(key)
    assert db.lookups == 2
    await v.stop()


async def test_a_lookup_racing_a_revocation_is_not_cached() -> None:
    db, bus = FakeDb(), MemoryBus()
    key = db.add("usage:read")
    v = await verifier(db, bus)
    original = db.sessions

    @asynccontextmanager
    async def slow_sessions() -> AsyncIterator[Any]:
        async with original() as session:
            v.forget("k0")  # the revocation message lands while the row is being read
            yield session

    db.sessions = slow_sessions  # type: ignore[method-assign]
    await v.verify(key)
    assert v._cache == {}
    await v.stop()


async def test_last_used_is_written_at_most_once_per_interval() -> None:
    db, bus = FakeDb(), MemoryBus()
    key, other = db.add("usage:read"), db.add("usage:write")
    v = await verifier(db, bus, cache_ttl_s=0.0)  # even uncached: no write per request
    for _ in range(50):
        await v.verify(key)
    await v.verify(other)
    await v.stop()
    assert db.writes == 2

    v = await verifier(db, bus, touch_interval_s=0.0)
    db.writes = 0
    for _ in range(3):
        await v.verify(key)
    await v.stop()
    assert db.writes == 3


async def test_replicas_sharing_a_cache_write_last_used_once_per_interval() -> None:
    db, bus, shared = FakeDb(), MemoryBus(), MemoryCache()
    key = db.add("usage:read")
    replicas = [await verifier(db, bus, shared=shared) for _ in range(3)]
    for replica in replicas:
        for _ in range(10):
            await replica.verify(key)
    for replica in replicas:
        await replica.stop()
    assert db.writes == 1


async def test_an_unreachable_database_fails_closed() -> None:
    db, bus = FakeDb(), MemoryBus()
    key = db.add("usage:read")
    v = await verifier(db, bus)
    db.down = True
    with pytest.raises(DependencyUnavailable):
        await v.verify(key)
    await v.stop()


async def test_malformed_revocation_messages_are_ignored() -> None:
    db, bus = FakeDb(), MemoryBus()
    key = db.add("usage:read")
    v = await verifier(db, bus)
    await v.verify(key)
    await bus.publish(api_keys.API_KEY_REVOCATIONS_CHANNEL, b"{not json")
    await bus.publish(api_keys.API_KEY_REVOCATIONS_CHANNEL, json.dumps({"key_id": "k9"}).encode())
    for _ in range(100):  # the k9 message, sent last, marks that both were handled
        if v._revocations:
            break
        await asyncio.sleep(0.01)
    assert v._revocations == 1 and v.listening.is_set() and len(v._cache) == 1
    await v.stop()


def test_only_key_scopes_can_open_an_endpoint_to_keys() -> None:
    from netra.auth.deps import require

    require("usage:read", api_key=True)  # the summary's permission: a key scope
    for permission in ("webhooks:write", "api_keys:write", "chat:use"):
        with pytest.raises(ValueError, match="not an API key scope"):
            require(permission, api_key=True)
