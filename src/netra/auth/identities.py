"""Users from OpenID Connect identities: found by (provider, subject), linked by verified
e-mail, or created."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from netra.auth.models import OAuthIdentity, Organisation, User
from netra.auth.oidc import Identity, OidcDenied
from netra.auth.service import create_account, find_user_by_email
from netra.auth.sessions import revoke_user_families
from netra.core.audit import record_audit


@dataclass(frozen=True)
class OidcSignIn:
    user: User
    org: Organisation
    revoked_sessions: list[str] = field(default_factory=list)  # to deny after the commit


async def sign_in_with_identity(
    session: AsyncSession, provider: str, identity: Identity, *, ip: str | None = None
) -> OidcSignIn:
    linked = (
        await session.execute(
            select(OAuthIdentity).where(
                OAuthIdentity.provider == provider, OAuthIdentity.subject == identity.subject
            )
        )
    ).scalar_one_or_none()
    user: User | None
    revoked: list[str] = []
    if linked is not None:
        user = await session.get(User, linked.user_id)
        linked.email = identity.email
    else:
        user = await find_user_by_email(session, identity.email)
        if user is None:
            user, _ = await create_account(
                session,
                email=identity.email,
                password=None,
                name=identity.name,
                email_verified=True,
                ip=ip,
            )
        elif not user.email_verified:
            # Someone registered this address with a password without proving they own it:
            # the provider just proved the owner is signing in, so that password (and every
            # session made with it) goes. Otherwise a squatter keeps access to the account.
            user.password_hash = None
            revoked = await revoke_user_families(session, user.id, "oauth_link")
        user.email_verified = True
        session.add(
            OAuthIdentity(
                user_id=user.id,
                provider=provider,
                subject=identity.subject,
                email=identity.email,
            )
        )
        record_audit(
            session,
            "auth.oauth_link",
            org_id=user.org_id,
            user_id=user.id,
            ip=ip,
            provider=provider,
        )
    if user is None or user.disabled:
        raise OidcDenied("this account is disabled")
    org = await session.get(Organisation, user.org_id)
    if org is None:
        raise OidcDenied("this account has no organisation")
    record_audit(
        session,
        "auth.login",
        org_id=org.id,
        user_id=user.id,
        ip=ip,
        method="oidc",
        provider=provider,
    )
    await session.flush()
    return OidcSignIn(user, org, revoked)
