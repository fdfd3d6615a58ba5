"""OpenID Connect sign-in routes (prefix ``/auth/oauth``).

``GET /{provider}/authorize`` redirects to the provider; ``GET /{provider}/callback`` checks the
answer and redirects the browser to the web UI with ``#login_code=<one-time code>`` in the
fragment (never sent to a server, never a token); ``POST /exchange`` ``{code}``, from the same
browser (HttpOnly binding cookie), answers the token pair.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from netra.auth.identities import sign_in_with_identity
from netra.auth.oauth_flow import (
    BIND_COOKIE,
    CODE_TTL_S,
    STATE_COOKIE,
    STATE_TTL_S,
    consume_state,
    issue_login_code,
    redeem_login_code,
    remember_request,
)
from netra.auth.oidc import (
    OidcClient,
    OidcDenied,
    OidcError,
    identity_from_claims,
    provider_error_message,
)
from netra.auth.schemas import CodeIn, TokenPair
from netra.auth.service import load_active_user
from netra.auth.sessions import start_session
from netra.auth.state import AuthState, get_auth
from netra.core.audit import record_audit, request_ip
from netra.core.deps import RuntimeDep, SessionDep
from netra.core.errors import BadInput, NotFound, Unauthenticated
from netra.core.openapi import responses
from netra.core.runtime import Runtime
from netra.core.services import Service

router = APIRouter(prefix="/auth/oauth", tags=["auth"])

OIDC: Service[OidcClient] = Service("oidc_client")
COOKIE_PATH = "/auth/oauth"


def oidc_client(runtime: Runtime, provider: str) -> OidcClient:
    settings = runtime.settings
    if not settings.oauth_enabled or provider != settings.oauth_provider:
        raise NotFound(f"unknown sign-in provider '{provider[:40]}'")
    # Built on first use: discovery needs the provider, which start-up must not wait for.
    return runtime.services.get(OIDC) or runtime.services.provide(OIDC, OidcClient(settings))


def _secure(auth: AuthState) -> bool:
    settings = auth.settings
    return not settings.is_dev or settings.public_url.startswith("https://")


def _cookie(response: Response, auth: AuthState, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        secure=_secure(auth),
        samesite="lax",  # sent on the provider's top-level redirect back, not on cross-site POSTs
    )


@router.get(
    "/{provider}/authorize",
    status_code=302,
    response_class=RedirectResponse,
    responses={302: {"description": "to the provider"}, **responses(404)},
)
async def authorize(provider: str, runtime: RuntimeDep) -> Response:
    auth = get_auth(runtime)
    client = oidc_client(runtime, provider)
    pending = await client.authorization_request()
    await remember_request(runtime.cache, pending)
    response = RedirectResponse(pending.url, status_code=302)
    _cookie(response, auth, STATE_COOKIE, pending.state, STATE_TTL_S)
    return response


@router.get(
    "/{provider}/callback",
    status_code=302,
    response_class=RedirectResponse,
    responses={302: {"description": "to the web app, signed in"}, **responses(400, 401, 403, 404)},
)
async def callback(
    provider: str,
    request: Request,
    runtime: RuntimeDep,
    state: str | None = None,
    code: str | None = None,
    error: str | None = None,
    iss: str | None = None,
) -> Response:
    auth = get_auth(runtime)
    client = oidc_client(runtime, provider)

    ip = request_ip(request)
    # The state is checked first: a forged or replayed callback gets nothing further.
    pending = await consume_state(runtime.cache, state, request.cookies.get(STATE_COOKIE))
    try:
        if error:
            message = provider_error_message(error)
            raise OidcDenied(message) if error == "access_denied" else OidcError(message)
        if iss is not None and iss.rstrip("/") != client.issuer:  # RFC 9207 mix-up defence
            raise OidcError("the authorization response came from another issuer")
        if not code:
            raise BadInput("the provider sent no authorization code")
        id_token = await client.exchange_code(code, pending.code_verifier)
        claims = await client.verify_id_token(id_token, nonce=pending.nonce)
        identity = identity_from_claims(claims, auth.settings.oauth_domains)
        async with runtime.db.unit_of_work() as session:
            signed_in = await sign_in_with_identity(session, client.name, identity, ip=ip)
    except (OidcError, OidcDenied) as exc:
        async with runtime.db.unit_of_work() as session:
            record_audit(
                session,
                "auth.login",
                outcome="failure",
                ip=ip,
                method="oidc",
                provider=client.name,
                reason=exc.message,
            )
        raise
    for sid in signed_in.revoked_sessions:
        await auth.revoke_session(user_id=signed_in.user.id, sid=sid)
    login_code, binding = await issue_login_code(runtime.cache, signed_in.user.id, signed_in.org.id)
    target = f"{auth.settings.public_url.rstrip('/')}/#login_code={login_code}"
    response = RedirectResponse(target, status_code=302)
    response.delete_cookie(STATE_COOKIE, path=COOKIE_PATH)
    _cookie(response, auth, BIND_COOKIE, binding, CODE_TTL_S * 2)
    return response


@router.post("/exchange", response_model=TokenPair, responses=responses(401))
async def exchange(
    body: CodeIn, request: Request, runtime: RuntimeDep, session: SessionDep
) -> Response:
    """The one-time code of the callback, from the same browser, for a token pair."""
    auth = get_auth(runtime)
    user_id, org_id = await redeem_login_code(
        runtime.cache, body.code, request.cookies.get(BIND_COOKIE)
    )
    found = await load_active_user(session, user_id, org_id)
    if found is None:
        raise Unauthenticated("account not found or disabled")
    pair = await start_session(session, auth.keys, auth.settings, *found)
    content: dict[str, Any] = pair.body()
    response = JSONResponse(content)
    response.delete_cookie(BIND_COOKIE, path=COOKIE_PATH)
    return response
