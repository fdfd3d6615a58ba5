"""API keys: an organisation's machine credentials (API.md "Machine access").

A key is ``nk_`` followed by 40 random URL-safe characters (240 bits). It is shown once, at
creation; the database keeps its SHA-256 (a fast hash is enough for a random secret of that
size: there is nothing to guess) and its first characters (``prefix``), by which a
presented key finds its candidate rows before the hashes are compared in constant time.

Scopes are what a key may do, and the only permissions it ever has: ``usage:write`` (ingest,
OTLP), ``usage:read`` (summary, stored analyses), ``analysis:run``. A revoked key stays listed
with its ``revoked_at``; revocation is published on :data:`API_KEY_REVOCATIONS_CHANNEL` as
``{"key_id": str}`` so every replica drops it from its cache at once.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from datetime import datetime

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from netra.auth.models import ApiKey
from netra.core.bus import Bus
from netra.core.context import UserContext
from netra.core.db import utcnow
from netra.core.errors import NotFound, ValidationFailed

KEY_PREFIX = "nk_"
KEY_SCOPES: tuple[str, ...] = ("usage:write", "usage:read", "analysis:run")
_SECRET_BYTES = 30  # 40 URL-safe characters
_SHOWN_CHARS = len(KEY_PREFIX) + 8  # "nk_" and 8 characters: the listed prefix
_MAX_KEY_LENGTH = 128
API_KEY_REVOCATIONS_CHANNEL = "api_key_revocations"

log = structlog.get_logger("netra.auth.api_keys")


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)


def is_api_key(token: str) -> bool:
    """Whether a bearer credential is meant as an API key (access tokens are JWTs: ``ey...``)."""
    return token.startswith(KEY_PREFIX)


def well_formed(key: str) -> bool:
    return (
        key.startswith(KEY_PREFIX)
        and len(key) <= _MAX_KEY_LENGTH
        and key.isascii()
        and len(key) > _SHOWN_CHARS
    )


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_prefix(key: str) -> str:
    return key[:_SHOWN_CHARS]


def check_scopes(scopes: Sequence[str]) -> list[str]:
    """The requested scopes, deduplicated in the documented order; unknown ones refused."""
    unknown = [s for s in scopes if s not in KEY_SCOPES]
    if unknown or not scopes:
        message = (
            f"unknown scope(s): {', '.join(map(repr, unknown))}"
            if unknown
            else "at least one scope is required"
        )
        raise ValidationFailed(
            f"{message}; scopes are {', '.join(KEY_SCOPES)}",
            details={"field": "scopes", "message": message, "allowed": list(KEY_SCOPES)},
        )
    return [s for s in KEY_SCOPES if s in scopes]


async def create_key(
    session: AsyncSession, user: UserContext, name: str, scopes: Sequence[str]
) -> tuple[ApiKey, str]:
    """A new key for the caller's organisation; the plain key is returned this once."""
    clean = name.strip()
    if not clean:
        raise ValidationFailed(
            "name must not be empty", details={"field": "name", "message": "empty"}
        )
    key = new_key()
    row = ApiKey(
        org_id=user.org_id,
        created_by=user.user_id,
        name=clean,
        prefix=key_prefix(key),
        key_hash=key_hash(key),
        scopes=check_scopes(scopes),
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row, key


async def count_active(session: AsyncSession, org_id: str) -> int:
    stmt = select(func.count()).where(ApiKey.org_id == org_id, ApiKey.revoked_at.is_(None))
    return int((await session.execute(stmt)).scalar_one())


async def list_keys(session: AsyncSession, org_id: str) -> list[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.org_id == org_id).order_by(ApiKey.created_at, ApiKey.id)
    return list((await session.execute(stmt)).scalars())


async def revoke_key(session: AsyncSession, org_id: str, key_id: str) -> ApiKey:
    """Mark the key revoked (idempotent: a revoked key keeps its first ``revoked_at``)."""
    stmt = select(ApiKey).where(ApiKey.id == key_id, ApiKey.org_id == org_id)
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound("API key not found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.flush()
    return row


def describe(row: ApiKey) -> dict[str, object]:
    """A key as listed: never the key itself, nor its hash."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "scopes": list(row.scopes),
        "created_at": iso(row.created_at),
        "last_used_at": iso(row.last_used_at),
        "revoked_at": iso(row.revoked_at),
    }


async def publish_key_revocation(bus: Bus, key_id: str) -> None:
    """Tell every replica to forget a revoked key. The database is the source of truth: a lost
    message only lets a cached key live until its cache entry expires, so failures are logged."""
    try:
        await bus.publish(API_KEY_REVOCATIONS_CHANNEL, json.dumps({"key_id": key_id}).encode())
    except Exception as exc:
        log.warning("API key revocation fan-out failed", key_id=key_id, error=str(exc))
