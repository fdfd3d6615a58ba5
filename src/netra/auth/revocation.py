"""Access-token revocation: denylists in the cache, and their fan-out on the runtime bus.

Three denylists, each kept only as long as a token it covers can live:
- one ``jti`` (logout),
- one sign-in session ``sid``: every access token issued from a refresh family (logout, reuse),
- a per-user cutoff: every token of the user issued at or before it (account disabled, reuse).

The check fails closed: when the cache cannot answer, the token is treated as unusable
(``DependencyUnavailable``), never as valid.

Every revocation is also published on :data:`REVOCATIONS_CHANNEL` as
``{"jti": str | null, "user_id": str, "all": bool}`` so each replica closes the WebSocket
connections of revoked tokens (``all``: every token of the user issued before now).
"""

from __future__ import annotations

import json
import time

import structlog

from netra.core.bus import Bus
from netra.core.cache import Cache
from netra.core.errors import DependencyUnavailable

REVOCATIONS_CHANNEL = "revocations"

_PREFIX = "revoked:jti:"
_SID_PREFIX = "revoked:sid:"
_USER_PREFIX = "revoked:user:"

log = structlog.get_logger("netra.auth.revocation")


async def revoke_token(cache: Cache, jti: str, exp: int) -> None:
    ttl = max(1, exp - int(time.time()) + 60)
    await cache.set(_PREFIX + jti, b"1", ttl_s=ttl)


async def revoke_session_tokens(cache: Cache, sid: str, ttl_s: int) -> None:
    """Every access token issued from refresh family ``sid`` is revoked."""
    await cache.set(_SID_PREFIX + sid, b"1", ttl_s=ttl_s + 60)


async def revoke_user_tokens(cache: Cache, user_id: str, ttl_s: int) -> None:
    """Every token of the user issued before now is revoked (account disabled, reuse detected)."""
    await cache.set(_USER_PREFIX + user_id, str(int(time.time())).encode(), ttl_s=ttl_s + 60)


async def is_revoked(
    cache: Cache,
    jti: str,
    *,
    user_id: str | None = None,
    iat: int = 0,
    sid: str | None = None,
) -> bool:
    try:
        if await cache.get(_PREFIX + jti) is not None:
            return True
        if sid is not None and await cache.get(_SID_PREFIX + sid) is not None:
            return True
        if user_id is not None:
            cutoff = await cache.get(_USER_PREFIX + user_id)
            if cutoff is not None and iat <= int(cutoff):
                return True
    except Exception as exc:  # fail closed
        raise DependencyUnavailable("revocation check unavailable") from exc
    return False


def revocation_message(*, user_id: str, jti: str | None = None, all: bool = False) -> bytes:
    return json.dumps({"jti": jti, "user_id": user_id, "all": all}).encode()


async def publish_revocation(
    bus: Bus, *, user_id: str, jti: str | None = None, all: bool = False
) -> None:
    """Tell every replica (WebSocket layer) that a token, or all of a user's, is revoked.

    The denylist in the cache is the source of truth; a lost message only delays closing a
    socket until its next check, so a bus failure is logged, not raised.
    """
    try:
        await bus.publish(
            REVOCATIONS_CHANNEL, revocation_message(user_id=user_id, jti=jti, all=all)
        )
    except Exception as exc:
        log.warning("revocation fan-out failed", user_id=user_id, error=str(exc))
