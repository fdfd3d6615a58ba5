"""Authentication dependencies: the bearer token becomes an immutable ``UserContext``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from netra.auth.verifier import TokenVerifier
from netra.core.context import UserContext
from netra.core.deps import get_runtime
from netra.core.errors import Forbidden, Unauthenticated
from netra.core.ratelimit import RATE_STATE, refusal, request_limiter_of
from netra.core.runtime import Runtime

VERIFIER = "token_verifier"


def get_verifier(runtime: Runtime) -> TokenVerifier:
    verifier = runtime.extras.get(VERIFIER)
    if not isinstance(verifier, TokenVerifier):
        raise RuntimeError("token verifier not configured for this app")
    return verifier


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("missing bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("expected 'Authorization: Bearer <token>'")
    return token.strip()


async def current_user(request: Request) -> UserContext:
    runtime = get_runtime(request)
    token = bearer_token(request.headers.get("authorization"))
    claims = await get_verifier(runtime).verify(token)
    request_id = request.headers.get("x-request-id")
    extra = {"request_id": request_id} if request_id else {}
    ctx = claims.context(**extra)
    # Every authenticated request counts against its organisation's tier rate.
    policy, decision = await request_limiter_of(runtime.extras).check(ctx.org_id, ctx.tier)
    setattr(request.state, RATE_STATE, (policy, decision))
    if not decision.allowed:
        raise refusal(policy, decision)
    return ctx


CurrentUser = Annotated[UserContext, Depends(current_user)]


def require(permission: str):  # type: ignore[no-untyped-def]
    """A dependency that refuses callers without ``permission`` (403)."""

    async def check(user: CurrentUser) -> UserContext:
        if not user.can(permission):
            raise Forbidden(f"missing permission '{permission}'")
        return user

    return Depends(check)
