"""Housekeeping of the auth tables: entries nothing can use any more are deleted.

A revocation is kept until the last token it covers has expired; a refresh family (and its
tokens) a day past its own expiry, so a late reuse still finds it and answers 401 with the
right reason. The auth service runs this periodically; it is safe on every replica at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from netra.auth.models import RefreshFamily, RefreshToken, TokenRevocation
from netra.core.db import Database, utcnow

FAMILY_GRACE = timedelta(days=1)

log = structlog.get_logger("netra.auth.housekeeping")


async def purge_expired(db: Database, now: datetime | None = None) -> dict[str, int]:
    """Delete expired revocations and long-expired refresh families; the counts deleted."""
    moment = now or utcnow()

    async def work(session: AsyncSession) -> dict[str, int]:
        revocations = await session.execute(
            delete(TokenRevocation).where(TokenRevocation.expires_at <= moment)
        )
        stale = select(RefreshFamily.id).where(RefreshFamily.expires_at <= moment - FAMILY_GRACE)
        tokens = await session.execute(
            delete(RefreshToken).where(RefreshToken.family_id.in_(stale))
        )
        families = await session.execute(
            delete(RefreshFamily).where(RefreshFamily.expires_at <= moment - FAMILY_GRACE)
        )
        return {
            "revocations": int(revocations.rowcount),  # type: ignore[attr-defined]
            "refresh_tokens": int(tokens.rowcount),  # type: ignore[attr-defined]
            "refresh_families": int(families.rowcount),  # type: ignore[attr-defined]
        }

    return await db.run(work)
