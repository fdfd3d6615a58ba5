"""The auth components: the full auth service (signs tokens) and token verification only."""

from __future__ import annotations

from netra.apps.component import Component
from netra.auth.deps import VERIFIER
from netra.auth.keys import load_keys
from netra.auth.verifier import TokenVerifier
from netra.core.runtime import Runtime

KEYS = "key_material"


async def _start_keys(runtime: Runtime) -> None:
    keys = load_keys(runtime.settings)
    runtime.extras[KEYS] = keys
    runtime.extras[VERIFIER] = TokenVerifier(runtime.settings, keys, runtime.cache)


def verification_component() -> Component:
    """For the backend and workers: verify tokens (public key, JWKS or shared secret)."""
    return Component("token-verification", start=_start_keys)


def auth_service_component() -> Component:
    """For the auth service: accounts, login, tokens, OAuth, introspection, JWKS."""
    from netra.auth.router import router

    return Component("auth", routers=[router], start=_start_keys)
