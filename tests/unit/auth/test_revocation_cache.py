"""A replica's copy of the token denylist (auth/revocation_cache): used only while the
revocations channel is heard and the copy was loaded after the last revocation heard; the same
answers as the database; a token revoked anywhere is refused at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from netra.auth import verifier as verifier_module
from netra.auth.keys import load_keys
from netra.auth.revocation import (
    is_revoked,
    publish_revocation,
    revoke_session_tokens,
    revoke_token,
    revoke_user_tokens,
)
from netra.auth.revocation_cache import RevocationCache
from netra.auth.tokens import issue_access_token
from netra.auth.verifier import TokenVerifier
from netra.core.bus import MemoryBus
from netra.core.db import Database
from netra.core.errors import Unauthenticated
from netra.core.migrate import upgrade
from netra.core.settings import Settings

pytestmark = pytest.mark.local

SECRET = "s" * 48


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[Database, MemoryBus]]:
    db = Database(Settings(env="test", database_url=f"sqlite+aiosqlite:///{tmp_path / 'r.db'}"))
    await upgrade(db.engine)
    bus = MemoryBus()
    yield db, bus
    await bus.close()
    await db.close()


async def wait_for(predicate: Any) -> None:
    for _ in range(1000):
        if predicate():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")


async def test_the_copy_answers_as_the_database_does(
    stores: tuple[Database, MemoryBus],
) -> None:
    db, bus = stores
    await revoke_token(db, "jti-1", exp=2**31)
    await revoke_session_tokens(db, "sid-1", ttl_s=900)
    await revoke_user_tokens(db, "u1", ttl_s=900)
    cache = RevocationCache(db, bus, ttl_s=10)
    await cache.start()
    try:
        await wait_for(cache.usable)
        now = int(time.time())
        for jti, user, iat, sid in [
            ("jti-1", "u9", now, None), ("jti-2", "u9", now, None), ("jti-2", "u9", now, "sid-1"),
            ("jti-2", "u1", now - 5, None), ("jti-2", "u1", now + 5, None),
            ("jti-2", "u2", now - 5, "sid-2"),
        ]:  # fmt: skip
            expected = await is_revoked(db, jti, user_id=user, iat=iat, sid=sid)
            assert cache.revoked(jti, user, iat, sid) is expected, (jti, user, iat, sid)
    finally:
        await cache.stop()
    assert cache.revoked("jti-1", None, 0, None) is None  # not heard any more: ask the database


async def test_a_revocation_heard_makes_the_copy_stale_until_reloaded(
    stores: tuple[Database, MemoryBus],
) -> None:
    db, bus = stores
    cache = RevocationCache(db, bus, ttl_s=10)
    await cache.start()
    try:
        await wait_for(cache.usable)
        assert cache.revoked("jti-1", "u1", 1, None) is False
        await revoke_token(db, "jti-1", exp=2**31)
        await publish_revocation(bus, user_id="u1", jti="jti-1")
        await wait_for(lambda: cache.generation > 1)
        # Heard: the copy is not trusted until a reload that began after the message.
        assert cache.revoked("jti-1", "u1", 1, None) in (None, True)
        await wait_for(cache.usable)
        assert cache.revoked("jti-1", "u1", 1, None) is True
    finally:
        await cache.stop()


async def test_verifier_asks_the_database_only_without_a_usable_copy(
    stores: tuple[Database, MemoryBus], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, bus = stores
    settings = Settings(env="test", jwt_algorithm="HS256", jwt_secret=SECRET)
    keys = load_keys(settings)
    token, claims = issue_access_token(keys, settings, user_id="u1", org_id="o1",
                                       tier="free", role="member")  # fmt: skip
    asked: list[str] = []

    async def counting(db_: Any, jti: str, **kw: Any) -> bool:
        asked.append(jti)
        return await is_revoked(db_, jti, **kw)

    monkeypatch.setattr(verifier_module, "is_revoked", counting)
    cache = RevocationCache(db, bus, ttl_s=10)
    await cache.start()
    verifier = TokenVerifier(settings, keys, db, cache=cache)
    try:
        await wait_for(cache.usable)
        for _ in range(5):
            assert (await verifier.verify(token, cached=True)).jti == claims.jti
        assert asked == []  # no database round trip
        await verifier.verify(token)  # not ``cached`` (REST requests): the database answers
        assert asked == [claims.jti]
        await revoke_token(db, claims.jti, claims.exp)
        await publish_revocation(bus, user_id="u1", jti=claims.jti)
        await wait_for(lambda: cache.generation > 1)  # heard
        # Refused from then on: by the database while the copy is stale, then by the copy.
        with pytest.raises(Unauthenticated):
            await verifier.verify(token, cached=True)
        await wait_for(cache.usable)
        asked.clear()
        with pytest.raises(Unauthenticated):
            await verifier.verify(token, cached=True)
        assert asked == []
    finally:
        await cache.stop()
    with pytest.raises(Unauthenticated):
        await verifier.verify(token, cached=True)
    assert asked  # without the bus heard, the database answers
