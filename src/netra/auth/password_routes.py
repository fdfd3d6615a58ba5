"""Password change and reset (prefix ``/auth``).

- ``POST /auth/password`` ``{current_password, new_password}`` with a bearer token: the
  current password is checked (through the sign-in throttle: this is a guessing oracle too),
  the new one must meet the policy; every session and access token of the user ends (the
  client signs in again). 204.
- ``POST /auth/password/reset`` ``{email}``: always 202, whether or not an account has the
  address (no enumeration; the e-mail goes out in the background so the answer takes the same
  time). An account with a password gets a one-time token by e-mail, valid
  ``NETRA_PASSWORD_RESET_TTL_S``; only its SHA-256 is stored. Limited per client address.
- ``POST /auth/password/reset/confirm`` ``{token, new_password}``: sets the password, uses the
  token up (and every other outstanding one of the user), ends every session. 204; an unknown,
  used or expired token is 400.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import timedelta

import structlog
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select, update

from netra.auth.deps import CurrentUser
from netra.auth.models import PasswordReset, User
from netra.auth.passwords import check_password_policy
from netra.auth.service import find_user_by_email, normalize_email
from netra.auth.sessions import revoke_user_families
from netra.auth.state import AuthState, get_auth
from netra.core.audit import record_audit, request_ip
from netra.core.db import utcnow
from netra.core.deps import RuntimeDep
from netra.core.email import Email, build_email_sender
from netra.core.errors import BadInput, Unauthenticated
from netra.core.openapi import responses

router = APIRouter(prefix="/auth", tags=["auth"])
log = structlog.get_logger("netra.auth.password")

INVALID_RESET = "invalid or expired reset token"
_background: set[asyncio.Task[None]] = set()


class PasswordChangeIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class ResetRequestIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)


class ResetRequested(BaseModel):
    status: str


class ResetConfirmIn(BaseModel):
    token: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=1024)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@router.post("/password", status_code=204, responses=responses(401, 422, 429))
async def change_password(
    body: PasswordChangeIn, request: Request, user: CurrentUser, runtime: RuntimeDep
) -> Response:
    auth = get_auth(runtime)
    ip = request_ip(request)
    async with runtime.db.unit_of_work() as session:
        account = await session.get(User, user.user_id)
        if account is None or account.disabled or account.password_hash is None:
            raise Unauthenticated("account not found, disabled or without a password")
        email = account.email
    reservation = await auth.throttle.reserve(email, ip)
    async with runtime.db.unit_of_work() as session:
        account = await session.get(User, user.user_id)
        assert account is not None
        if not await auth.passwords.verify(account.password_hash, body.current_password):
            record_audit(session, "auth.password_change", outcome="failure", ip=ip,
                         org_id=account.org_id, user_id=account.id)  # fmt: skip
            failed = True
        else:
            check_password_policy(body.new_password, account.email)
            account.password_hash = await auth.passwords.hash(body.new_password)
            await revoke_user_families(session, account.id, "password changed")
            record_audit(session, "auth.password_change", org_id=account.org_id,
                         user_id=account.id, ip=ip)  # fmt: skip
            failed = False
    if failed:
        raise Unauthenticated("the current password is wrong")
    await auth.throttle.succeeded(reservation)
    await auth.revoke_user(user.user_id)  # every access token and socket, on every replica
    return Response(status_code=204)


@router.post(
    "/password/reset", status_code=202, response_model=ResetRequested, responses=responses(429)
)
async def request_reset(
    body: ResetRequestIn, request: Request, runtime: RuntimeDep
) -> dict[str, str]:
    auth = get_auth(runtime)
    await auth.throttle.limit_address("reset", request_ip(request))
    email = normalize_email(body.email)
    task = asyncio.create_task(_send_reset(auth, email, request_ip(request)))
    _background.add(task)
    task.add_done_callback(_background.discard)
    return {"status": "if an account has this address, a reset e-mail is on its way"}


async def _send_reset(auth: AuthState, email: str, ip: str | None) -> None:
    runtime = auth.runtime
    settings = runtime.settings
    try:
        token = secrets.token_urlsafe(32)
        async with runtime.db.unit_of_work() as session:
            user = await find_user_by_email(session, email)
            if user is None or user.disabled or user.password_hash is None:
                return
            session.add(
                PasswordReset(
                    org_id=user.org_id,
                    user_id=user.id,
                    token_hash=token_hash(token),
                    expires_at=utcnow() + timedelta(seconds=settings.password_reset_ttl_s),
                )
            )
            record_audit(session, "auth.password_reset_requested", org_id=user.org_id,
                         user_id=user.id, ip=ip)  # fmt: skip
        sender = build_email_sender(settings)
        if sender is None:
            log.warning("password reset requested but no e-mail sender is configured")
            return
        minutes = settings.password_reset_ttl_s // 60
        await sender.send(
            Email(
                to=email,
                subject="Reset your Netra password",
                text=(
                    "Someone (hopefully you) asked to reset the password of this Netra account.\n\n"
                    f"Open {settings.public_url.rstrip('/')}/#reset={token}\n"
                    f"or send this token to POST /auth/password/reset/confirm: {token}\n\n"
                    f"It works once, for {minutes} minutes. If you did not ask, ignore this.\n"
                ),
            )
        )
    except Exception as exc:  # a background task: log, never crash the loop
        log.warning("password reset e-mail failed", error=str(exc))


@router.post("/password/reset/confirm", status_code=204, responses=responses(400, 422))
async def confirm_reset(body: ResetConfirmIn, request: Request, runtime: RuntimeDep) -> Response:
    auth = get_auth(runtime)
    now = utcnow()
    async with runtime.db.unit_of_work() as session:
        reset = (
            await session.execute(
                select(PasswordReset).where(PasswordReset.token_hash == token_hash(body.token))
            )
        ).scalar_one_or_none()
        if reset is None or reset.used_at is not None or reset.expires_at <= now:
            raise BadInput(INVALID_RESET, details={"field": "token"})
        user = await session.get(User, reset.user_id)
        if user is None or user.disabled:
            raise BadInput(INVALID_RESET, details={"field": "token"})
        check_password_policy(body.new_password, user.email)
        user.password_hash = await auth.passwords.hash(body.new_password)
        # This token and any other outstanding one of the user are spent.
        await session.execute(
            update(PasswordReset)
            .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        await revoke_user_families(session, user.id, "password reset")
        record_audit(session, "auth.password_reset", org_id=user.org_id, user_id=user.id,
                     ip=request_ip(request))  # fmt: skip
        user_id = user.id
    await auth.revoke_user(user_id)
    return Response(status_code=204)
