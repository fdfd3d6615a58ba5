"""Access-token revocation: a denylist of ``jti`` until the token's expiry, in the cache.

The check fails closed: when the cache cannot answer, the token is treated as unusable
(``DependencyUnavailable``), never as valid.
"""

from __future__ import annotations

import time

from netra.core.cache import Cache
from netra.core.errors import DependencyUnavailable

_PREFIX = "revoked:jti:"
_USER_PREFIX = "revoked:user:"


async def revoke_token(cache: Cache, jti: str, exp: int) -> None:
    ttl = max(1, exp - int(time.time()) + 60)
    await cache.set(_PREFIX + jti, b"1", ttl_s=ttl)


async def revoke_user_tokens(cache: Cache, user_id: str, ttl_s: int) -> None:
    """Every token of the user issued before now is revoked (account disabled, reuse detected)."""
    await cache.set(_USER_PREFIX + user_id, str(int(time.time())).encode(), ttl_s=ttl_s + 60)


async def is_revoked(cache: Cache, jti: str, *, user_id: str | None = None, iat: int = 0) -> bool:
    try:
        if await cache.get(_PREFIX + jti) is not None:
            return True
        if user_id is not None:
            cutoff = await cache.get(_USER_PREFIX + user_id)
            if cutoff is not None and iat <= int(cutoff):
                return True
    except Exception as exc:  # fail closed
        raise DependencyUnavailable("revocation check unavailable") from exc
    return False
