"""Accounts: organisations and users, sign-up, password sign-in, profile, disabling.

Services only flush; the caller's unit of work commits.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from netra.auth.models import ROLES, Organisation, User
from netra.auth.passwords import Passwords, check_password_policy
from netra.auth.sessions import revoke_user_families
from netra.auth.tokens import permissions_for
from netra.core.audit import record_audit
from netra.core.db import utcnow
from netra.core.errors import Conflict, NotFound, ValidationFailed
from netra.core.settings import TIERS

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")
EMAIL_TAKEN = "an account with this e-mail address already exists"


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_email(email: str) -> str:
    normalized = normalize_email(email)
    if len(normalized) > 320 or not _EMAIL.match(normalized):
        raise ValidationFailed("invalid e-mail address", details={"field": "email"})
    return normalized


async def find_user_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(User.email == normalize_email(email)))
    return result.scalar_one_or_none()


async def create_account(
    session: AsyncSession,
    *,
    email: str,
    password: str | None,
    name: str | None = None,
    org_name: str | None = None,
    tier: str = "free",
    role: str = "owner",
    org_id: str | None = None,
    email_verified: bool = False,
    passwords: Passwords | None = None,
    ip: str | None = None,
) -> tuple[User, Organisation]:
    """Create a user and, unless ``org_id`` names an existing one, their organisation.

    ``password`` None makes an account that signs in only through OpenID Connect.
    Raises ``ValidationFailed`` (bad e-mail, weak password, unknown tier or role) or
    ``Conflict`` (e-mail taken).
    """
    normalized = check_email(email)
    if tier not in TIERS:
        raise ValidationFailed(f"unknown tier '{tier}'", details={"field": "tier"})
    if role not in ROLES:
        raise ValidationFailed(f"unknown role '{role}'", details={"field": "role"})
    password_hash: str | None = None
    if password is not None:
        check_password_policy(password, normalized)
        # Hashed before the lookup: a taken e-mail answers in the same time as a free one.
        password_hash = await (passwords or Passwords()).hash(password)
    if await find_user_by_email(session, normalized) is not None:
        raise Conflict(EMAIL_TAKEN)
    if org_id is not None:
        org = await session.get(Organisation, org_id)
        if org is None:
            raise NotFound("organisation not found")
    else:
        label = (org_name or "").strip() or f"{(name or normalized.split('@')[0]).strip()}'s team"
        org = Organisation(name=label[:200], tier=tier)
        session.add(org)
        await session.flush()
    user = User(
        org_id=org.id,
        email=normalized,
        name=(name or "").strip()[:200] or None,
        password_hash=password_hash,
        role=role,
        disabled=False,
        email_verified=email_verified,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent sign-up took the address
        raise Conflict(EMAIL_TAKEN) from exc
    record_audit(session, "auth.signup", org_id=org.id, user_id=user.id, ip=ip)
    return user, org


async def authenticate(
    session: AsyncSession, passwords: Passwords, email: str, password: str
) -> tuple[User, Organisation] | None:
    """The account for these credentials, or None. Same work whether or not it exists."""
    user = await find_user_by_email(session, email)
    if user is None or user.password_hash is None:
        await passwords.verify(None, password)
        return None
    if not await passwords.verify(user.password_hash, password) or user.disabled:
        return None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = await passwords.hash(password)
    user.last_login_at = utcnow()
    org = await session.get(Organisation, user.org_id)
    if org is None:
        return None
    return user, org


async def load_active_user(
    session: AsyncSession, user_id: str, org_id: str
) -> tuple[User, Organisation] | None:
    user = await session.get(User, user_id)
    if user is None or user.org_id != org_id or user.disabled:
        return None
    org = await session.get(Organisation, org_id)
    return None if org is None else (user, org)


def profile(user: User, org: Organisation) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "org_id": org.id,
        "org_name": org.name,
        "tier": org.tier,
        "role": user.role,
        "permissions": permissions_for(user.role),
    }


async def disable_user(session: AsyncSession, user_id: str, *, reason: str = "disabled") -> User:
    """Mark the account disabled and end its sessions. After the commit, the caller revokes the
    access tokens in the revocation list (``revoke_user_tokens``) and publishes the revocation."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user not found")
    user.disabled = True
    await revoke_user_families(session, user_id, reason)
    record_audit(session, "auth.disable", org_id=user.org_id, user_id=user.id, reason=reason)
    await session.flush()
    return user
