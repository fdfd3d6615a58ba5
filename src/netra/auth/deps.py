"""Authentication dependencies: the bearer credential becomes an immutable ``UserContext``.

One way in, :func:`authenticate`: a person's access token (JWT) or an organisation's API key
(``nk_...``), told apart by their form. What each may reach is decided here, once:

- :data:`CurrentUser` endpoints are for people only: an API key gets 403 there.
- ``require(permission, api_key=True)`` is how an endpoint opts in to keys (the usage ingest,
  summary and analyses endpoints): a key is accepted there when it holds ``permission``, which
  must be one of the key scopes (``usage:write``, ``usage:read``, ``analysis:run``). Every
  other ``require(...)`` refuses keys with 403, so a key never manages keys, members, budgets
  or webhooks, whatever it was given and whatever permissions those endpoints ask for later.
- ``require_api_key(scope)`` is for machine-only endpoints (OTLP ``/v1/traces``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from netra.auth.api_key_verifier import ApiKeyVerifier
from netra.auth.api_keys import KEY_SCOPES, is_api_key
from netra.auth.verifier import TokenVerifier
from netra.core.context import UserContext
from netra.core.deps import get_runtime
from netra.core.errors import Forbidden, Unauthenticated
from netra.core.runtime import Runtime

VERIFIER = "token_verifier"
KEY_VERIFIER = "api_key_verifier"

KEYS_NOT_HERE = "API keys are accepted only by the usage, summary and analyses endpoints"


def get_verifier(runtime: Runtime) -> TokenVerifier:
    verifier = runtime.extras.get(VERIFIER)
    if not isinstance(verifier, TokenVerifier):
        raise RuntimeError("token verifier not configured for this app")
    return verifier


def get_key_verifier(runtime: Runtime) -> ApiKeyVerifier:
    verifier = runtime.extras.get(KEY_VERIFIER)
    if not isinstance(verifier, ApiKeyVerifier):
        raise Unauthenticated("this service does not accept API keys")
    return verifier


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("missing bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("expected 'Authorization: Bearer <token>'")
    return token.strip()


async def authenticate(request: Request) -> UserContext:
    """Who is calling: a verified access token or API key (401 otherwise)."""
    runtime = get_runtime(request)
    token = bearer_token(request.headers.get("authorization"))
    request_id = request.headers.get("x-request-id")
    extra: dict[str, Any] = {"request_id": request_id} if request_id else {}
    if is_api_key(token):
        return await get_key_verifier(runtime).verify(token, **extra)
    claims = await get_verifier(runtime).verify(token)
    return claims.context(**extra)


async def current_user(request: Request) -> UserContext:
    principal = await authenticate(request)
    if principal.kind != "user":
        raise Forbidden(KEYS_NOT_HERE)
    return principal


CurrentUser = Annotated[UserContext, Depends(current_user)]


def require(permission: str, *, api_key: bool = False):  # type: ignore[no-untyped-def]
    """A dependency that refuses callers without ``permission`` (403); API keys holding it
    are accepted too when ``api_key`` is set (only for a permission that is a key scope)."""
    if api_key and permission not in KEY_SCOPES:
        raise ValueError(f"'{permission}' is not an API key scope")

    async def check(request: Request) -> UserContext:
        principal = await authenticate(request)
        if principal.kind == "api_key" and not api_key:
            raise Forbidden(KEYS_NOT_HERE)
        if not principal.can(permission):
            raise Forbidden(f"missing permission '{permission}'")
        return principal

    return Depends(check)


def require_api_key(scope: str):  # type: ignore[no-untyped-def]
    """For machine endpoints: an API key holding ``scope`` (401 for anything else)."""

    async def check(request: Request) -> UserContext:
        token = bearer_token(request.headers.get("authorization"))
        if not is_api_key(token):
            raise Unauthenticated("this endpoint takes an API key: 'Authorization: Bearer nk_...'")
        principal = await authenticate(request)
        if not principal.can(scope):
            raise Forbidden(f"the API key lacks the scope '{scope}'")
        return principal

    return Depends(check)
