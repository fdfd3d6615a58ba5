"""Access-token revocation: a denylist in the database, and its fan-out on the runtime bus.

Three kinds of entry, each kept only as long as a token it covers can live:
- one ``jti`` (logout),
- one sign-in session ``sid``: every access token issued from a refresh family (logout, reuse),
- a per-user cutoff: every token of the user issued at or before it (account disabled, reuse).

The list lives in the database every service already shares (not in Redis), so a Redis outage
does not stop authenticated requests, and an entry is durable once written. The check fails
closed: when the database cannot answer, the token is treated as unusable
(``DependencyUnavailable``), never as valid.

Every revocation is also published on :data:`REVOCATIONS_CHANNEL` as
``{"jti": str | null, "sid": str | null, "user_id": str, "all": bool}`` so each replica closes
the WebSocket connections of revoked tokens (``sid``: every token of that sign-in session, as
logout revokes; ``all``: every token of the user issued before now).
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from netra.auth.models import TokenRevocation
from netra.core.bus import Bus
from netra.core.db import Database, utcnow
from netra.core.errors import DependencyUnavailable

REVOCATIONS_CHANNEL = "revocations"

log = structlog.get_logger("netra.auth.revocation")


async def _record(db: Database, kind: str, key: str, *, ttl_s: int, cutoff: int = 0) -> None:
    expires = utcnow() + timedelta(seconds=max(1, ttl_s) + 60)

    async def write(session: AsyncSession) -> None:
        session.add(TokenRevocation(kind=kind, key=key, cutoff=cutoff, expires_at=expires))

    await db.run(write)


async def revoke_token(db: Database, jti: str, exp: int) -> None:
    await _record(db, "jti", jti, ttl_s=exp - int(time.time()))


async def revoke_session_tokens(db: Database, sid: str, ttl_s: int) -> None:
    """Every access token issued from refresh family ``sid`` is revoked."""
    await _record(db, "sid", sid, ttl_s=ttl_s)


async def revoke_user_tokens(db: Database, user_id: str, ttl_s: int) -> None:
    """Every token of the user issued before now is revoked (account disabled, reuse detected)."""
    await _record(db, "user", user_id, ttl_s=ttl_s, cutoff=int(time.time()))


def deny_user_tokens_in(session: AsyncSession, user_id: str, ttl_s: int) -> None:
    """The same as :func:`revoke_user_tokens`, in the caller's unit of work (a role change or a
    removal and the revocation of the tokens that carry the old role commit together)."""
    expires = utcnow() + timedelta(seconds=max(1, ttl_s) + 60)
    session.add(
        TokenRevocation(kind="user", key=user_id, cutoff=int(time.time()), expires_at=expires)
    )


def _revoked_query(jti: str, user_id: str | None, iat: int, sid: str | None) -> Select[Any]:
    entry = TokenRevocation
    matches = [and_(entry.kind == "jti", entry.key == jti)]
    if sid is not None:
        matches.append(and_(entry.kind == "sid", entry.key == sid))
    if user_id is not None:
        matches.append(and_(entry.kind == "user", entry.key == user_id, entry.cutoff >= iat))
    return select(entry.id).where(or_(*matches), entry.expires_at > utcnow()).limit(1)


async def is_revoked(
    db: Database,
    jti: str,
    *,
    user_id: str | None = None,
    iat: int = 0,
    sid: str | None = None,
) -> bool:
    try:
        async with db.sessions() as session:
            return await revoked_in(session, jti, user_id=user_id, iat=iat, sid=sid)
    except Exception as exc:  # fail closed
        raise DependencyUnavailable("revocation check unavailable") from exc


async def revoked_in(
    session: AsyncSession, jti: str, *, user_id: str | None = None, iat: int = 0,
    sid: str | None = None,
) -> bool:  # fmt: skip
    """:func:`is_revoked` as one statement of the caller's transaction (its failure is the
    transaction's: nothing it guards is committed)."""
    query = _revoked_query(jti, user_id, iat, sid)
    return (await session.execute(query)).first() is not None


def revocation_message(
    *, user_id: str, jti: str | None = None, sid: str | None = None, all: bool = False
) -> bytes:
    return json.dumps({"jti": jti, "sid": sid, "user_id": user_id, "all": all}).encode()


async def publish_revocation(
    bus: Bus,
    *,
    user_id: str,
    jti: str | None = None,
    sid: str | None = None,
    all: bool = False,
) -> None:
    """Tell every replica (WebSocket layer) that a token, or all of a user's, is revoked.

    The denylist in the database is the source of truth; a lost message only delays closing a
    socket until its next check, so a bus failure is logged, not raised.
    """
    try:
        await bus.publish(
            REVOCATIONS_CHANNEL, revocation_message(user_id=user_id, jti=jti, sid=sid, all=all)
        )
    except Exception as exc:
        log.warning("revocation fan-out failed", user_id=user_id, error=str(exc))
