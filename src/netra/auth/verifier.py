"""The verification helper every service uses: signature and claims, then revocation.

Used by the backend's REST dependencies, the WebSocket handshake and workers. Revocation is
checked on every call and fails closed.
"""

from __future__ import annotations

from netra.auth.keys import KeyMaterial
from netra.auth.revocation import is_revoked
from netra.auth.tokens import AccessClaims, decode_access_token
from netra.core.db import Database
from netra.core.errors import Unauthenticated
from netra.core.settings import Settings


class TokenVerifier:
    def __init__(self, settings: Settings, keys: KeyMaterial, db: Database) -> None:
        self.settings = settings
        self.keys = keys
        self.db = db

    async def verify(self, token: str) -> AccessClaims:
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
        if await is_revoked(
            self.db, claims.jti, user_id=claims.sub, iat=claims.iat, sid=claims.sid
        ):
            raise Unauthenticated("token revoked")
        return claims
