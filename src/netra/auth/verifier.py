"""The verification helper every service uses: signature and claims, then revocation.

Used by the backend's REST dependencies, the WebSocket handshake and workers. Revocation is
checked on every call and fails closed; where the process hears the revocations channel
(``cache``: API replicas), WebSocket checks are answered from its copy of the denylist,
reloaded whenever a revocation is heard (see :mod:`netra.auth.revocation_cache`).
"""

from __future__ import annotations

from netra.auth.keys import KeyMaterial
from netra.auth.revocation import is_revoked
from netra.auth.revocation_cache import RevocationCache
from netra.auth.tokens import AccessClaims, decode_access_token
from netra.core.db import Database
from netra.core.errors import Unauthenticated
from netra.core.settings import Settings


class TokenVerifier:
    def __init__(
        self,
        settings: Settings,
        keys: KeyMaterial,
        db: Database,
        cache: RevocationCache | None = None,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.db = db
        self.cache = cache

    async def verify(self, token: str, *, cached: bool = False) -> AccessClaims:
        """The token's claims, or ``Unauthenticated``. ``cached``: the revocation answer may come
        from this replica's copy of the denylist, which learns of a revocation through the bus
        (milliseconds later than the database): for WebSocket connects and re-checks, whose
        sockets the hub closes when that message arrives (chat/hub.py, chat/connection.py)."""
        if self.keys.jwks_url is not None:
            await self.keys.refresh_jwks()
        try:
            claims = decode_access_token(self.keys, self.settings, token)
        except Unauthenticated:
            if self.keys.jwks_url is None:
                raise
            # The auth service may have rotated its key: refetch once, then decide.
            await self.keys.refresh_jwks(force=True)
            claims = decode_access_token(self.keys, self.settings, token)
        revoked = (
            self.cache.revoked(claims.jti, claims.sub, claims.iat, claims.sid)
            if cached and self.cache is not None
            else None
        )
        if revoked is None:  # no copy to trust: the database answers (and fails closed)
            revoked = await is_revoked(
                self.db, claims.jti, user_id=claims.sub, iat=claims.iat, sid=claims.sid
            )
        if revoked:
            raise Unauthenticated("token revoked")
        return claims
