"""Auth service HTTP routes (prefix ``/auth``): accounts, tokens, introspection, keys."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from netra.auth.deps import CurrentUser, bearer_scheme, bearer_token
from netra.auth.invitations import consume_invitation
from netra.auth.schemas import (
    IntrospectIn,
    Introspection,
    Jwks,
    LoginIn,
    Profile,
    RefreshIn,
    Registered,
    RegisterIn,
    ServiceConfiguration,
    TokenPair,
)
from netra.auth.service import (
    authenticate,
    create_account,
    find_user_by_email,
    load_active_user,
    normalize_email,
    profile,
)
from netra.auth.sessions import revoke_family, rotate_refresh_token, start_session
from netra.auth.state import get_auth
from netra.auth.wellknown import service_configuration
from netra.core.audit import record_audit, request_ip
from netra.core.deps import RuntimeDep, SessionDep
from netra.core.errors import Unauthenticated
from netra.core.openapi import responses

router = APIRouter(prefix="/auth", tags=["auth"])

INVALID_LOGIN = "invalid e-mail or password"


# Routes whose outcome must be committed before they answer (a failed sign-in's audit row and
# throttle count, a reused refresh token's revocation, then 401) open their own unit of work;
# the others take the request's (SessionDep, committed when the endpoint returns).


@router.post(
    "/register", status_code=201, response_model=Registered, responses=responses(403, 409, 429)
)
async def register(
    body: RegisterIn, request: Request, runtime: RuntimeDep, session: SessionDep
) -> dict[str, Any]:
    auth = get_auth(runtime)
    await auth.throttle.register(request_ip(request))
    joining = None
    if body.invitation is not None:
        # Consumed in this unit of work: a failed sign-up leaves the invitation unused.
        joining = await consume_invitation(session, body.invitation, normalize_email(body.email))
    user, org = await create_account(
        session,
        email=body.email,
        password=body.password,
        name=body.name,
        org_name=body.org_name,
        passwords=auth.passwords,
        ip=request_ip(request),
        org_id=joining.org_id if joining else None,
        role=joining.role if joining else "owner",
    )
    if joining is not None:
        record_audit(
            session, "member.join", org_id=org.id, user_id=user.id, ip=request_ip(request),
            invitation_id=joining.invitation_id, email=user.email, role=user.role,
        )  # fmt: skip
    return {"user": profile(user, org)}


@router.post("/login", response_model=TokenPair, responses=responses(401, 429))
async def login(body: LoginIn, request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    auth = get_auth(runtime)
    email, ip = normalize_email(body.email), request_ip(request)
    reservation = await auth.throttle.reserve(email, ip)  # before the password is checked
    async with runtime.db.unit_of_work() as session:
        found = await authenticate(session, auth.passwords, email, body.password)
        if found is None:
            known = await find_user_by_email(session, email)
            record_audit(
                session,
                "auth.login",
                outcome="failure",
                ip=ip,
                org_id=known.org_id if known else None,
                user_id=known.id if known else None,
            )
            pair = None
        else:
            user, org = found
            record_audit(session, "auth.login", org_id=org.id, user_id=user.id, ip=ip)
            pair = await start_session(session, auth.keys, auth.settings, user, org)
    if pair is None:
        raise Unauthenticated(INVALID_LOGIN)  # the reservation stays: it was this failure
    await auth.throttle.succeeded(reservation)
    return pair.body()


@router.post("/refresh", response_model=TokenPair, responses=responses(401))
async def refresh(body: RefreshIn, request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    """Rotate a refresh token: the new pair, or 401 (reuse revokes the whole session)."""
    auth = get_auth(runtime)
    if not body.refresh_token:
        raise Unauthenticated("missing refresh token")
    async with runtime.db.unit_of_work() as session:
        outcome = await rotate_refresh_token(
            session, auth.keys, auth.settings, body.refresh_token, ip=request_ip(request)
        )
    if outcome.reused and outcome.user_id and outcome.family_id:
        # Committed above: the family stays revoked even though this request fails.
        await auth.revoke_session(user_id=outcome.user_id, sid=outcome.family_id)
        await auth.revoke_user(outcome.user_id)
        raise Unauthenticated("refresh token already used: session revoked, sign in again")
    if outcome.pair is None:
        raise Unauthenticated("invalid or expired refresh token")
    return outcome.pair.body()


@router.post(
    "/logout",
    status_code=204,
    dependencies=[Depends(bearer_scheme)],
    responses=responses(401),
)
async def logout(request: Request, runtime: RuntimeDep) -> Response:
    """Revoke the presented access token and its whole sign-in session."""
    auth = get_auth(runtime)
    claims = await auth.verifier.verify(bearer_token(request.headers.get("authorization")))
    async with runtime.db.unit_of_work() as session:
        if claims.sid is not None:
            await revoke_family(session, claims.sid, "logout")
        record_audit(
            session, "auth.logout", org_id=claims.org, user_id=claims.sub, ip=request_ip(request)
        )
    if claims.sid is not None:
        await auth.revoke_session(user_id=claims.sub, sid=claims.sid)
    await auth.revoke_access_token(user_id=claims.sub, jti=claims.jti, exp=claims.exp)
    return Response(status_code=204)


@router.get("/me", response_model=Profile, responses=responses(401))
async def me(user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    found = await load_active_user(session, user.user_id, user.org_id)
    if found is None:
        raise Unauthenticated("account not found or disabled")
    return profile(*found)


@router.post(
    "/introspect",
    response_model=Introspection,
    response_model_exclude_none=True,
    dependencies=[Depends(bearer_scheme)],
    responses=responses(401),
)
async def introspect(body: IntrospectIn, request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    """For other services, with the service credential as bearer: is this token active?"""
    auth = get_auth(runtime)
    presented = bearer_token(request.headers.get("authorization"))
    expected = auth.settings.service_token
    if expected is None or not hmac.compare_digest(
        presented.encode(), expected.get_secret_value().encode()
    ):
        raise Unauthenticated("invalid service credential")
    try:
        claims = await auth.verifier.verify(body.token)
    except Unauthenticated:
        return {"active": False}
    return {
        "active": True,
        "sub": claims.sub,
        "org_id": claims.org,
        "tier": claims.tier,
        "role": claims.role,
        "permissions": list(claims.perms),
        "exp": claims.exp,
    }


@router.get("/.well-known/jwks.json", response_model=Jwks)
async def jwks(runtime: RuntimeDep) -> dict[str, Any]:
    return get_auth(runtime).keys.public_jwks()


@router.get("/.well-known/netra-configuration", response_model=ServiceConfiguration)
async def configuration(runtime: RuntimeDep) -> dict[str, Any]:
    """What other services compare with their own settings at start-up (issuer, keys...)."""
    auth = get_auth(runtime)
    return service_configuration(auth.settings, auth.keys)
