"""Invitations: an owner or admin invites an address into the organisation with a role.

The token is 256 random bits shown once (and e-mailed when a sender is configured), stored only
as its SHA-256. ``POST /auth/register`` with ``invitation`` consumes it: single use (one
conditional UPDATE, so of two concurrent sign-ups exactly one joins), expiring, and only for the
address it was sent to.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Index, String, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from netra.core.db import Base, CreatedMixin, IdMixin, UtcDateTime, utcnow
from netra.core.errors import Forbidden

INVITATION_REFUSED = "invalid, expired or already used invitation"


class Invitation(IdMixin, CreatedMixin, Base):
    __tablename__ = "invitations"
    __table_args__ = (Index("ix_invitations_org", "org_id"),)

    org_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False
    )
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    invited_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


def hash_invitation_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_invitation(
    *, org_id: str, email: str, role: str, invited_by: str | None, ttl_s: int
) -> tuple[Invitation, str]:
    """An unsaved invitation and its raw token (the only time the token exists in clear)."""
    raw = "ni_" + secrets.token_urlsafe(32)
    invitation = Invitation(
        org_id=org_id,
        email=email,
        role=role,
        token_hash=hash_invitation_token(raw),
        invited_by=invited_by,
        expires_at=utcnow() + timedelta(seconds=ttl_s),
    )
    return invitation, raw


@dataclass(frozen=True, slots=True)
class Joining:
    invitation_id: str
    org_id: str
    role: str


async def consume_invitation(session: AsyncSession, raw: str, email: str) -> Joining:
    """Use the invitation ``raw`` for ``email`` (already normalised), or ``Forbidden``.

    The caller's unit of work commits: if the sign-up fails afterwards, the invitation stays
    unused. Every refusal has the same message (no oracle for which part was wrong).
    """
    if not raw or len(raw) > 256:
        raise Forbidden(INVITATION_REFUSED)
    now = utcnow()
    result = await session.execute(
        update(Invitation)
        .where(
            Invitation.token_hash == hash_invitation_token(raw),
            Invitation.accepted_at.is_(None),
            Invitation.expires_at > now,
            Invitation.email == email,
        )
        .values(accepted_at=now)
        .returning(Invitation.id, Invitation.org_id, Invitation.role)
    )
    row = result.first()
    if row is None:
        raise Forbidden(INVITATION_REFUSED)
    return Joining(invitation_id=row[0], org_id=row[1], role=row[2])
