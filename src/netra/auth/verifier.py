"""The verification helper every service uses: signature and claims, then revocation.

Used by the backend's REST dependencies, the WebSocket handshake and workers. Revocation is
checked on every call and fails closed; where the process hears the revocations channel
(``cache``: API replicas), WebSocket checks are answered from its copy of the denylist,
reloaded whenever a revocation is heard (see :mod:`netra.auth.revocation_cache`).

A token whose signature and claims were verified is remembered (bounded), so the same token
presented again (another tab, a reconnect, each user message on a socket) is not verified
again; its expiry is re-checked at each use and a change of keys forgets them all. Revocation
is never remembered here.
"""

from __future__ import annotations

import time

from sqlalchemy.ext.asyncio import AsyncSession

from netra.auth.keys import KeyMaterial
from netra.auth.revocation import is_revoked, revoked_in
from netra.auth.revocation_cache import RevocationCache
from netra.auth.tokens import AccessClaims, decode_access_token
from netra.core.db import Database
from netra.core.errors import Unauthenticated
from netra.core.settings import Settings

VERIFIED_MAX = 10_000  # tokens remembered as verified (the oldest forgotten first)


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
        self._verified: dict[str, AccessClaims] = {}
        self._verified_with: object = None  # the key list they were verified with

    def _decode(self, token: str) -> AccessClaims:
        """Signature and claims, or the claims this token was verified to have before."""
        keys = self.keys.verify_keys
        if keys is not self._verified_with:  # keys rotated or refetched: verify afresh
            self._verified.clear()
            self._verified_with = keys
        claims = self._verified.get(token)
        if claims is not None and time.time() < claims.exp + self.settings.jwt_leeway_s:
            return claims
        claims = decode_access_token(self.keys, self.settings, token)
        self._verified[token] = claims
        if len(self._verified) > VERIFIED_MAX:
            del self._verified[next(iter(self._verified))]
        return claims

    async def _claims(self, token: str) -> AccessClaims:
        """Signature and claims, refetching the auth service's keys when they may be stale."""
        if self.keys.jwks_url is not None:
            await self.keys.refresh_jwks()
        try:
            return self._decode(token)
        except Unauthenticated:
            if self.keys.jwks_url is None:
                raise
            # The auth service may have rotated its key: refetch once, then decide.
            await self.keys.refresh_jwks(force=True)
            return decode_access_token(self.keys, self.settings, token)

    async def verify_in(self, session: AsyncSession, token: str) -> AccessClaims:
        """As :meth:`verify` with the database answering revocation, as one statement of the
        caller's transaction: what that transaction does happens only for a token not revoked
        at that moment (a WebSocket ``user_message`` starting a run)."""
        claims = await self._claims(token)
        if await revoked_in(session, claims.jti, user_id=claims.sub, iat=claims.iat,
                            sid=claims.sid):  # fmt: skip
            raise Unauthenticated("token revoked")
        return claims

    async def verify(self, token: str, *, cached: bool = False) -> AccessClaims:
        """The token's claims, or ``Unauthenticated``. ``cached``: the revocation answer may come
        from this replica's copy of the denylist, which learns of a revocation through the bus
        (milliseconds later than the database): for WebSocket connects and re-checks, whose
        sockets the hub closes when that message arrives (chat/hub.py, chat/connection.py)."""
        claims = await self._claims(token)
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
