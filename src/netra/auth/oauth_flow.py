"""Server-side state of an OpenID Connect sign-in: the pending request and the one-time code.

The pending request (nonce, PKCE verifier) is kept in the cache under a hash of ``state`` and
bound to the browser by an HttpOnly cookie holding ``state``; it is consumed once, so a replayed
or forged ``state`` is refused. After the callback the web UI gets a one-time code (never a
token) that it exchanges, from the same browser, for a token pair.
Every cache failure refuses the sign-in (fails closed).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from netra.auth.oidc import AuthorizationRequest
from netra.core.cache import Cache
from netra.core.errors import BadInput, DependencyUnavailable, Unauthenticated

STATE_TTL_S = 600
CODE_TTL_S = 60
STATE_COOKIE = "netra_oauth_state"
BIND_COOKIE = "netra_login_bind"


def _h(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class PendingSignIn:
    nonce: str
    code_verifier: str


async def remember_request(cache: Cache, request: AuthorizationRequest) -> None:
    data = {"nonce": request.nonce, "verifier": request.code_verifier}
    try:
        await cache.set(
            "oauth:state:" + _h(request.state), json.dumps(data).encode(), ttl_s=STATE_TTL_S
        )
    except Exception as exc:
        raise DependencyUnavailable("sign-in state store unavailable") from exc


async def consume_state(cache: Cache, state: str | None, cookie_state: str | None) -> PendingSignIn:
    """The pending sign-in for ``state``, once; refused when it does not match the browser's
    cookie, is unknown, expired or already used."""
    if not state or not cookie_state or not hmac.compare_digest(state, cookie_state):
        raise BadInput("sign-in state does not match this browser: start the sign-in again")
    first, raw = await _take_once(cache, "oauth:state", _h(state), STATE_TTL_S, "sign-in state")
    if not first:
        raise BadInput("sign-in state already used: start the sign-in again")
    if raw is None:
        raise BadInput("sign-in state unknown or expired: start the sign-in again")
    data = json.loads(raw)
    return PendingSignIn(nonce=str(data["nonce"]), code_verifier=str(data["verifier"]))


async def issue_login_code(cache: Cache, user_id: str, org_id: str) -> tuple[str, str]:
    """(code for the UI, binding for the browser's HttpOnly cookie)."""
    code, binding = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    data = {"user_id": user_id, "org_id": org_id, "bind": _h(binding)}
    try:
        await cache.set("oauth:code:" + _h(code), json.dumps(data).encode(), ttl_s=CODE_TTL_S)
    except Exception as exc:
        raise DependencyUnavailable("sign-in code store unavailable") from exc
    return code, binding


async def redeem_login_code(cache: Cache, code: str, binding: str | None) -> tuple[str, str]:
    """(user_id, org_id) for a one-time code presented with its browser binding, once."""
    first, raw = await _take_once(cache, "oauth:code", _h(code), CODE_TTL_S * 2, "sign-in code")
    if not first:
        raise Unauthenticated("sign-in code already used")
    if raw is None:
        raise Unauthenticated("sign-in code unknown or expired")
    data = json.loads(raw)
    if not binding or not hmac.compare_digest(_h(binding), str(data["bind"])):
        raise Unauthenticated("sign-in code was issued to another browser")
    return str(data["user_id"]), str(data["org_id"])


async def _take_once(
    cache: Cache, prefix: str, key: str, used_ttl_s: float, what: str
) -> tuple[bool, bytes | None]:
    """Consume a single-use value: (first use?, its stored value or None).

    A "used" marker set atomically decides the one winner; the value is deleted either way.
    """
    try:
        first = await cache.set_if_absent(f"{prefix}-used:{key}", b"1", ttl_s=used_ttl_s)
        raw = await cache.get(f"{prefix}:{key}") if first else None
        await cache.delete(f"{prefix}:{key}")
    except Exception as exc:
        raise DependencyUnavailable(f"{what} store unavailable") from exc
    return first, raw
