"""Members of an organisation: list, invite, change a role, remove.

Rules: an admin manages members, viewers and admins; only an owner appoints, demotes or removes
an owner; an organisation always keeps at least one owner. Changes lock the organisation's row
(``SELECT ... FOR UPDATE`` on PostgreSQL), so two owners demoting each other at once cannot
leave it with none. Services flush; the caller's unit of work commits, and the member's tokens
are revoked in that same transaction (their new role applies from their next token).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from netra.auth.invitations import Invitation, new_invitation
from netra.auth.models import Organisation, User
from netra.auth.revocation import deny_user_tokens_in, publish_revocation
from netra.auth.roles import ROLES
from netra.auth.service import check_email, find_user_by_email
from netra.core.audit import record_audit
from netra.core.bus import Bus
from netra.core.context import UserContext
from netra.core.db import after_commit, utcnow
from netra.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from netra.core.settings import Settings

OWNER_ROLE = "owner"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def member_out(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "created_at": _iso(user.created_at),
        "last_login_at": _iso(user.last_login_at),
    }


def invitation_out(invitation: Invitation) -> dict[str, Any]:
    return {
        "id": invitation.id,
        "email": invitation.email,
        "role": invitation.role,
        "created_at": _iso(invitation.created_at),
        "expires_at": _iso(invitation.expires_at),
    }


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationFailed(
            f"unknown role '{role}' (one of {', '.join(ROLES)})", details={"field": "role"}
        )
    return role


def _may_touch_owners(ctx: UserContext, *roles: str) -> None:
    if OWNER_ROLE in roles and not ctx.can("members:owner"):
        raise Forbidden("only an owner appoints, changes or removes an owner")


async def _lock_org(session: AsyncSession, org_id: str) -> Organisation:
    org = (
        await session.execute(
            select(Organisation).where(Organisation.id == org_id).with_for_update()
        )
    ).scalar_one_or_none()
    if org is None:
        raise NotFound("organisation not found")
    return org


async def _member(session: AsyncSession, ctx: UserContext, member_id: str) -> User:
    user = await session.get(User, member_id)
    if user is None or user.org_id != ctx.org_id:
        raise NotFound("member not found")
    return user


async def _owners(session: AsyncSession, org_id: str) -> int:
    stmt = select(func.count()).where(
        User.org_id == org_id, User.role == OWNER_ROLE, User.disabled.is_(False)
    )
    return int((await session.execute(stmt)).scalar_one())


async def list_members(session: AsyncSession, ctx: UserContext) -> dict[str, Any]:
    users = (
        await session.execute(
            select(User).where(User.org_id == ctx.org_id).order_by(User.created_at, User.id)
        )
    ).scalars()
    pending = (
        await session.execute(
            select(Invitation)
            .where(
                Invitation.org_id == ctx.org_id,
                Invitation.accepted_at.is_(None),
                Invitation.expires_at > utcnow(),
            )
            .order_by(Invitation.created_at)
        )
    ).scalars()
    return {
        "members": [member_out(u) for u in users],
        "invitations": [invitation_out(i) for i in pending],
    }


async def invite(
    session: AsyncSession,
    ctx: UserContext,
    settings: Settings,
    *,
    email: str,
    role: str,
    ip: str | None = None,
) -> tuple[Invitation, str]:
    """A new invitation and its raw token. 409 when the address already has an account."""
    address = check_email(email)
    _may_touch_owners(ctx, _check_role(role))
    await _lock_org(session, ctx.org_id)
    if await find_user_by_email(session, address) is not None:
        raise Conflict("this address already has an account")
    invitation, raw = new_invitation(
        org_id=ctx.org_id,
        email=address,
        role=role,
        invited_by=ctx.user_id,
        ttl_s=settings.invitation_ttl_s,
    )
    session.add(invitation)
    await session.flush()
    record_audit(
        session, "member.invite", org_id=ctx.org_id, user_id=ctx.user_id, ip=ip,
        invitation_id=invitation.id, email=address, role=role,
    )  # fmt: skip
    return invitation, raw


async def cancel_invitation(
    session: AsyncSession, ctx: UserContext, invitation_id: str, *, ip: str | None = None
) -> None:
    invitation = await session.get(Invitation, invitation_id)
    if invitation is None or invitation.org_id != ctx.org_id or invitation.accepted_at is not None:
        raise NotFound("invitation not found")
    _may_touch_owners(ctx, invitation.role)
    await session.delete(invitation)
    record_audit(
        session, "member.invite_cancel", org_id=ctx.org_id, user_id=ctx.user_id, ip=ip,
        invitation_id=invitation_id, email=invitation.email,
    )  # fmt: skip


def _revoke_after_commit(session: AsyncSession, bus: Bus, settings: Settings, user_id: str) -> None:
    """Deny the member's current tokens in this transaction; close their sockets after it."""
    deny_user_tokens_in(session, user_id, settings.access_token_ttl_s)

    async def fan_out() -> None:
        await publish_revocation(bus, user_id=user_id, all=True)

    after_commit(session, fan_out)


async def change_role(
    session: AsyncSession,
    ctx: UserContext,
    settings: Settings,
    bus: Bus,
    member_id: str,
    role: str,
    *,
    ip: str | None = None,
) -> User:
    _check_role(role)
    await _lock_org(session, ctx.org_id)
    user = await _member(session, ctx, member_id)
    old = user.role
    _may_touch_owners(ctx, old, role)
    if old == role:
        return user
    if old == OWNER_ROLE and await _owners(session, ctx.org_id) <= 1:
        raise Conflict("an organisation keeps at least one owner: appoint another first")
    user.role = role
    _revoke_after_commit(session, bus, settings, user.id)
    record_audit(
        session, "member.role_change", org_id=ctx.org_id, user_id=ctx.user_id, ip=ip,
        member_id=user.id, email=user.email, old_role=old, new_role=role,
    )  # fmt: skip
    await session.flush()
    return user


async def remove_member(
    session: AsyncSession,
    ctx: UserContext,
    settings: Settings,
    bus: Bus,
    member_id: str,
    *,
    ip: str | None = None,
) -> None:
    """Delete the member's account (sessions and identities go with it); their tokens die now.

    What they created (threads, reports, usage) stays with the organisation.
    """
    await _lock_org(session, ctx.org_id)
    user = await _member(session, ctx, member_id)
    _may_touch_owners(ctx, user.role)
    if user.role == OWNER_ROLE and await _owners(session, ctx.org_id) <= 1:
        raise Conflict("an organisation keeps at least one owner: appoint another first")
    email, role = user.email, user.role
    await session.execute(delete(User).where(User.id == user.id))
    _revoke_after_commit(session, bus, settings, member_id)
    record_audit(
        session, "member.remove", org_id=ctx.org_id, user_id=ctx.user_id, ip=ip,
        member_id=member_id, email=email, role=role,
    )  # fmt: skip
