"""Expired revocations and long-expired sign-in sessions are deleted; live ones are kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from netra.apps.auth_service import create_app
from netra.auth.housekeeping import FAMILY_GRACE, purge_expired
from netra.auth.models import RefreshFamily, RefreshToken
from netra.auth.revocation import is_revoked, revoke_token
from netra.core.db import utcnow
from support.accounts import migrated, signup
from support.apps import running_app


@pytest.fixture
async def service(make_settings: Any) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app = create_app(await migrated(make_settings()))
    async with running_app(app) as client:
        yield app.state.runtime, client


async def _count(db: Any, model: Any) -> int:
    async with db.sessions() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


async def test_purge_keeps_what_can_still_be_used(service: tuple[Any, httpx.AsyncClient]) -> None:
    runtime, client = service
    db = runtime.db
    now = utcnow()
    await revoke_token(db, "short", exp=int(now.timestamp()) + 60)
    await revoke_token(db, "long", exp=int(now.timestamp()) + 86_400)
    account = await signup(client)
    assert await _count(db, RefreshFamily) == 1

    # An hour on: the short revocation (its token expired) goes, the long one and the session stay.
    deleted = await purge_expired(db, now + timedelta(hours=1))
    assert deleted == {"revocations": 1, "refresh_tokens": 0, "refresh_families": 0}
    assert not await is_revoked(db, "short") and await is_revoked(db, "long")

    # Past the session's expiry plus the grace: the session and its tokens go too.
    later = now + timedelta(seconds=runtime.settings.refresh_token_ttl_s) + FAMILY_GRACE
    deleted = await purge_expired(db, later + timedelta(minutes=1))
    assert deleted["refresh_families"] == 1 and deleted["refresh_tokens"] >= 1
    assert await _count(db, RefreshFamily) == 0 and await _count(db, RefreshToken) == 0
    refused = await client.post("/auth/refresh", json={"refresh_token": account["refresh_token"]})
    assert refused.status_code == 401
