"""Sign-in sessions: refresh-token families, rotation and reuse detection.

A refresh token is 256 random bits shown once and stored only as its SHA-256. Each refresh
marks the presented token used and issues the next one in the same family. Marking is one
conditional UPDATE (``... WHERE used_at IS NULL``), so of concurrent refreshes of one token
exactly one wins; every other presentation of a used token is reuse: the whole family is
revoked (the legitimate holder signs in again, a thief's copy dies with it).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from netra.auth.keys import KeyMaterial
from netra.auth.models import Organisation, RefreshFamily, RefreshToken, User
from netra.auth.tokens import AccessClaims, issue_access_token
from netra.core.audit import record_audit
from netra.core.db import utcnow
from netra.core.settings import Settings


def hash_refresh_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    claims: AccessClaims

    def body(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
        }


@dataclass(frozen=True)
class RotateOutcome:
    """The result of presenting a refresh token: a new pair, or why not."""

    pair: TokenPair | None = None
    reused: bool = False  # a used token came back: family revoked, user's tokens to revoke
    user_id: str | None = None
    family_id: str | None = None


async def _issue(
    session: AsyncSession,
    keys: KeyMaterial,
    settings: Settings,
    family: RefreshFamily,
    user: User,
    org: Organisation,
) -> TokenPair:
    raw = secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(seconds=settings.refresh_token_ttl_s)
    family.expires_at = expires
    session.add(
        RefreshToken(family_id=family.id, token_hash=hash_refresh_token(raw), expires_at=expires)
    )
    access, claims = issue_access_token(
        keys,
        settings,
        user_id=user.id,
        org_id=org.id,
        tier=org.tier,
        role=user.role,
        session_id=family.id,
    )
    await session.flush()
    return TokenPair(access, raw, settings.access_token_ttl_s, claims)


async def start_session(
    session: AsyncSession,
    keys: KeyMaterial,
    settings: Settings,
    user: User,
    org: Organisation,
) -> TokenPair:
    """A new refresh family for a fresh sign-in, and its first token pair."""
    family = RefreshFamily(
        user_id=user.id,
        org_id=org.id,
        expires_at=utcnow() + timedelta(seconds=settings.refresh_token_ttl_s),
    )
    session.add(family)
    await session.flush()
    return await _issue(session, keys, settings, family, user, org)


async def revoke_family(session: AsyncSession, family_id: str, reason: str) -> bool:
    result = await session.execute(
        update(RefreshFamily)
        .where(RefreshFamily.id == family_id, RefreshFamily.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )
    return bool(getattr(result, "rowcount", 0))


async def revoke_user_families(session: AsyncSession, user_id: str, reason: str) -> list[str]:
    """Revoke every live sign-in session of the user; their ids (to deny their access tokens)."""
    live = RefreshFamily.user_id == user_id, RefreshFamily.revoked_at.is_(None)
    ids = list((await session.execute(select(RefreshFamily.id).where(*live))).scalars())
    if ids:
        await session.execute(
            update(RefreshFamily)
            .where(RefreshFamily.id.in_(ids))
            .values(revoked_at=utcnow(), revoked_reason=reason)
        )
    return ids


async def rotate_refresh_token(
    session: AsyncSession,
    keys: KeyMaterial,
    settings: Settings,
    raw: str,
    *,
    ip: str | None = None,
) -> RotateOutcome:
    """Exchange a refresh token for a new pair (the caller commits, then acts on reuse)."""
    if not raw or len(raw) > 512:
        return RotateOutcome()
    row = (
        await session.execute(
            select(RefreshToken, RefreshFamily)
            .join(RefreshFamily, RefreshFamily.id == RefreshToken.family_id)
            .where(RefreshToken.token_hash == hash_refresh_token(raw))
        )
    ).first()
    if row is None:
        return RotateOutcome()
    token, family = row
    now = utcnow()
    if family.revoked_at is not None or token.expires_at <= now:
        return RotateOutcome(user_id=family.user_id, family_id=family.id)
    claimed = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if not getattr(claimed, "rowcount", 0):
        await revoke_family(session, family.id, "reuse")
        record_audit(
            session,
            "auth.refresh_reuse",
            org_id=family.org_id,
            user_id=family.user_id,
            outcome="failure",
            ip=ip,
            family_id=family.id,
        )
        return RotateOutcome(reused=True, user_id=family.user_id, family_id=family.id)
    user = await session.get(User, family.user_id)
    org = await session.get(Organisation, family.org_id)
    if user is None or org is None or user.disabled:
        await revoke_family(session, family.id, "disabled")
        return RotateOutcome(user_id=family.user_id, family_id=family.id)
    pair = await _issue(session, keys, settings, family, user, org)
    return RotateOutcome(pair=pair, user_id=user.id, family_id=family.id)
