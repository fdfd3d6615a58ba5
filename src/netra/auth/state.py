"""What the auth service keeps for the life of a process, in ``runtime.services[AUTH]``."""

from __future__ import annotations

from dataclasses import dataclass

from netra.auth.keys import KeyMaterial
from netra.auth.passwords import Passwords
from netra.auth.revocation import (
    publish_revocation,
    revoke_session_tokens,
    revoke_token,
    revoke_user_tokens,
)
from netra.auth.throttle import LoginThrottle
from netra.auth.verifier import TokenVerifier
from netra.core.runtime import Runtime
from netra.core.services import Service
from netra.core.settings import Settings

AUTH: Service[AuthState] = Service("auth_state")


@dataclass
class AuthState:
    runtime: Runtime
    keys: KeyMaterial
    passwords: Passwords
    throttle: LoginThrottle
    verifier: TokenVerifier

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    async def revoke_access_token(self, *, user_id: str, jti: str, exp: int) -> None:
        await revoke_token(self.runtime.db, jti, exp)
        await publish_revocation(self.runtime.bus, user_id=user_id, jti=jti)

    async def revoke_session(self, *, user_id: str, sid: str) -> None:
        """Every access token of one sign-in session (refresh family), and every socket opened
        with one of them, on every replica."""
        await revoke_session_tokens(self.runtime.db, sid, self.settings.access_token_ttl_s)
        await publish_revocation(self.runtime.bus, user_id=user_id, sid=sid)

    async def disable_account(self, user_id: str, *, reason: str = "disabled") -> None:
        """Disable the account, end its sessions, and revoke its access tokens everywhere."""
        from netra.auth.service import disable_user

        async with self.runtime.db.unit_of_work() as session:
            await disable_user(session, user_id, reason=reason)
        await self.revoke_user(user_id)

    async def revoke_user(self, user_id: str) -> None:
        """Every access token of the user issued until now, on every replica."""
        await revoke_user_tokens(self.runtime.db, user_id, self.settings.access_token_ttl_s)
        await publish_revocation(self.runtime.bus, user_id=user_id, all=True)


def get_auth(runtime: Runtime) -> AuthState:
    return runtime.services[AUTH]
