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
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from netra.auth.api_key_verifier import ApiKeyVerifier
from netra.auth.api_keys import KEY_SCOPES, is_api_key
from netra.auth.verifier import TokenVerifier
from netra.core.context import UserContext
from netra.core.deps import get_runtime
from netra.core.errors import Forbidden, Unauthenticated
from netra.core.ratelimit import RATE_STATE, REQUEST_LIMITER, refusal
from netra.core.runtime import Runtime
from netra.core.services import Service

VERIFIER: Service[TokenVerifier] = Service("token_verifier")
KEY_VERIFIER: Service[ApiKeyVerifier] = Service("api_key_verifier")

KEYS_NOT_HERE = "API keys are accepted only by the usage, summary and analyses endpoints"

# Declares the bearer scheme in the OpenAPI document (``security`` on every operation that
# depends on it); the header itself is read by ``bearer_token`` so that every refusal is ours.
bearer_scheme = HTTPBearer(auto_error=False, scheme_name="bearer", bearerFormat="JWT")
BearerDeclared = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
# The same header carrying an organisation's API key: declared where keys are accepted.
api_key_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    bearerFormat="nk_...",
    description="an API key (POST /api/v1/api-keys) as 'Authorization: Bearer nk_...'",
)
ApiKeyDeclared = Annotated[HTTPAuthorizationCredentials | None, Depends(api_key_scheme)]


def get_verifier(runtime: Runtime) -> TokenVerifier:
    return runtime.services[VERIFIER]


def get_key_verifier(runtime: Runtime) -> ApiKeyVerifier:
    verifier = runtime.services.get(KEY_VERIFIER)
    if verifier is None:
        raise Unauthenticated("this service does not accept API keys")
    return verifier


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("missing bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("expected 'Authorization: Bearer <token>'")
    return token.strip()


PRINCIPAL_STATE = "principal"  # request.state: the caller, once verified and counted


async def authenticate(request: Request) -> UserContext:
    """Who is calling: a verified access token or API key (401 otherwise).

    Every authenticated request counts once against its organisation's tier rate (429 over
    it), however many dependencies of the endpoint ask who is calling.
    """
    known = getattr(request.state, PRINCIPAL_STATE, None)
    if isinstance(known, UserContext):
        return known
    runtime = get_runtime(request)
    token = bearer_token(request.headers.get("authorization"))
    request_id = request.headers.get("x-request-id")
    extra: dict[str, Any] = {"request_id": request_id} if request_id else {}
    if is_api_key(token):
        principal = await get_key_verifier(runtime).verify(token, **extra)
    else:
        claims = await get_verifier(runtime).verify(token)
        principal = claims.context(**extra)
    limiter = runtime.services[REQUEST_LIMITER]
    policy, decision = await limiter.check(principal.org_id, principal.tier)
    setattr(request.state, RATE_STATE, (policy, decision))
    if not decision.allowed:
        raise refusal(policy, decision)
    setattr(request.state, PRINCIPAL_STATE, principal)
    return principal


async def current_user(request: Request, _: BearerDeclared = None) -> UserContext:
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

    # Two signatures: the OpenAPI document lists the apiKey scheme only where keys are taken.
    if api_key:

        async def check(
            request: Request, _: BearerDeclared = None, __: ApiKeyDeclared = None
        ) -> UserContext:
            return await _permitted(request, permission, api_key=True)

    else:

        async def check(request: Request, _: BearerDeclared = None) -> UserContext:  # type: ignore[misc]
            return await _permitted(request, permission, api_key=False)

    return Depends(check)


async def _permitted(request: Request, permission: str, *, api_key: bool) -> UserContext:
    principal = await authenticate(request)
    if principal.kind == "api_key" and not api_key:
        raise Forbidden(KEYS_NOT_HERE)
    if not principal.can(permission):
        raise Forbidden(f"missing permission '{permission}'")
    return principal


def require_api_key(scope: str):  # type: ignore[no-untyped-def]
    """For machine endpoints: an API key holding ``scope`` (401 for anything else)."""

    async def check(request: Request, _: ApiKeyDeclared = None) -> UserContext:
        token = bearer_token(request.headers.get("authorization"))
        if not is_api_key(token):
            raise Unauthenticated("this endpoint takes an API key: 'Authorization: Bearer nk_...'")
        principal = await authenticate(request)
        if not principal.can(scope):
            raise Forbidden(f"the API key lacks the scope '{scope}'")
        return principal

    return Depends(check)
