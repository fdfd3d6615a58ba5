"""Tables of the auth domain: organisations, users, refresh-token families, OAuth identities,
revocations and API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from netra.auth.roles import ROLES as ROLES  # re-exported: callers validate roles here
from netra.core.db import Base, CreatedMixin, IdMixin, UtcDateTime


class Organisation(IdMixin, CreatedMixin, Base):
    __tablename__ = "organisations"

    name: Mapped[str] = mapped_column(String(200), nullable=False)
    tier: Mapped[str] = mapped_column(String(16), nullable=False, default="free")


class User(IdMixin, CreatedMixin, Base):
    __tablename__ = "users"

    org_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # Stored lower-cased: one account per address whatever its spelling.
    email: Mapped[str] = mapped_column(String(320), nullable=False, unique=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)  # OAuth-only
    role: Mapped[str] = mapped_column(String(16), nullable=False, default="member")
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    email_verified: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class RefreshFamily(IdMixin, CreatedMixin, Base):
    """One sign-in session: every refresh token rotated from the same login."""

    __tablename__ = "refresh_families"

    user_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    org_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)


class RefreshToken(IdMixin, CreatedMixin, Base):
    """A refresh token, stored only as its SHA-256; ``used_at`` set when rotated."""

    __tablename__ = "refresh_tokens"

    family_id: Mapped[str] = mapped_column(
        String(32),
        ForeignKey("refresh_families.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class OAuthIdentity(IdMixin, CreatedMixin, Base):
    """A user's account at an OpenID Connect provider (``sub`` is stable, e-mail is not)."""

    __tablename__ = "oauth_identities"
    __table_args__ = (
        UniqueConstraint("provider", "subject", name="uq_oauth_identities_provider_subject"),
        Index("ix_oauth_identities_user", "user_id"),
    )

    user_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    provider: Mapped[str] = mapped_column(String(64), nullable=False)
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    email: Mapped[str] = mapped_column(String(320), nullable=False)


class TokenRevocation(IdMixin, CreatedMixin, Base):
    """One revoked access token (``jti``), sign-in session (``sid``) or every token of a user
    issued at or before ``cutoff`` (``user``). Kept until the last token it covers expires."""

    __tablename__ = "token_revocations"
    __table_args__ = (Index("ix_token_revocations_kind_key", "kind", "key"),)

    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    key: Mapped[str] = mapped_column(String(64), nullable=False)
    cutoff: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)


class ApiKey(IdMixin, CreatedMixin, Base):
    """A machine credential of an organisation (API.md "Machine access").

    Only the key's SHA-256 is stored; ``prefix`` (the key's first characters, shown in lists)
    finds the candidate rows, so looking a key up never compares its secret part in an index.
    """

    __tablename__ = "api_keys"
    __table_args__ = (
        Index("ix_api_keys_org", "org_id"),
        Index("ix_api_keys_prefix", "prefix"),
    )

    org_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False
    )
    created_by: Mapped[str | None] = mapped_column(String(32), nullable=True)  # a user id
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class PasswordReset(IdMixin, CreatedMixin, Base):
    """A one-time password-reset token: only its SHA-256 is stored; used once, then marked."""

    __tablename__ = "password_resets"

    org_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    user_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
