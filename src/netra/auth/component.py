"""The auth components: the full auth service (signs tokens), token verification only, and API
keys (managed and verified by the backend itself, against the shared database)."""

from __future__ import annotations

import structlog

from netra.auth.api_key_verifier import ApiKeyVerifier
from netra.auth.deps import KEY_VERIFIER, VERIFIER
from netra.auth.keys import KeyMaterial, load_keys
from netra.auth.oidc import issuer_problem
from netra.auth.passwords import Passwords
from netra.auth.revocation_cache import RevocationCache
from netra.auth.state import AUTH, AuthState
from netra.auth.throttle import LoginThrottle
from netra.auth.verifier import TokenVerifier
from netra.auth.wellknown import (
    configuration_differences,
    fetch_configuration,
    service_configuration,
)
from netra.core.component import Component
from netra.core.errors import ConfigurationError
from netra.core.lifecycle import Degraded, Dependency
from netra.core.runtime import Runtime
from netra.core.services import Service

KEYS: Service[KeyMaterial] = Service("key_material")

log = structlog.get_logger("netra.auth")


def _start_keys(runtime: Runtime) -> tuple[KeyMaterial, TokenVerifier]:
    keys = load_keys(runtime.settings)
    verifier = TokenVerifier(runtime.settings, keys, runtime.db)
    runtime.services.provide(KEYS, keys)
    runtime.services.provide(VERIFIER, verifier)
    return keys, verifier


async def check_auth_service_agreement(runtime: Runtime, keys: KeyMaterial) -> None:
    """I6: refuse to start when this service and the auth service disagree on tokens."""
    url = runtime.settings.auth_service_url
    if not url:
        return
    try:
        remote = await fetch_configuration(url)
    except Exception as exc:
        raise ConfigurationError(
            [
                "NETRA_AUTH_SERVICE_URL: cannot read the auth service's configuration "
                f"at {url}: {exc}"
            ]
        ) from exc
    if keys.jwks_url is not None:
        await keys.refresh_jwks(force=True)
    problems = configuration_differences(service_configuration(runtime.settings, keys), remote)
    if problems:
        raise ConfigurationError(
            [f"this service and the auth service at {url} disagree:", *problems]
        )
    log.info("auth service configuration agrees", auth_service=url)


async def _start_verification(runtime: Runtime) -> None:
    keys, verifier = _start_keys(runtime)
    await check_auth_service_agreement(runtime, keys)
    if keys.jwks_url is not None:
        runtime.lifecycle.add(
            Dependency("jwks", check=lambda: jwks_health(keys), describe=keys.jwks_url)
        )
    # A verifying service hears every revocation: it checks tokens against its own copy of the
    # denylist instead of one database round trip per check.
    verifier.cache = RevocationCache(
        runtime.db, runtime.bus, runtime.settings.revocation_cache_ttl_s
    )
    await verifier.cache.start()


async def _stop_verification(runtime: Runtime) -> None:
    verifier = runtime.services.get(VERIFIER)
    if verifier is not None and verifier.cache is not None:
        await verifier.cache.stop()


async def jwks_health(keys: KeyMaterial) -> None:
    """The auth service's keys: unavailable with none (no token can be verified), degraded
    while the fetch fails but keys are cached (tokens signed with them still verify)."""
    await keys.refresh_jwks(force=True)
    if keys.jwks_error:
        raise Degraded(f"cannot refresh the JWKS, using the cached keys: {keys.jwks_error}")


async def _start_auth_service(runtime: Runtime) -> None:
    keys, verifier = _start_keys(runtime)
    if not keys.can_sign:
        raise ConfigurationError(
            ["the auth service needs a signing key (NETRA_JWT_PRIVATE_KEY or NETRA_JWT_SECRET)"]
        )
    settings = runtime.settings
    if settings.oauth_enabled:
        problems = [p for p in [issuer_problem(settings)] if p]
        if not settings.oauth_client_id:
            problems.append("NETRA_OAUTH_CLIENT_ID is missing (OAuth is enabled)")
        if problems:
            raise ConfigurationError(problems)
    runtime.services.provide(
        AUTH,
        AuthState(
            runtime=runtime,
            keys=keys,
            passwords=Passwords.from_settings(runtime.settings),
            throttle=LoginThrottle(runtime.cache, runtime.settings),
            verifier=verifier,
        ),
    )


async def _start_api_keys(runtime: Runtime) -> None:
    settings = runtime.settings
    verifier = ApiKeyVerifier(
        runtime.db,
        runtime.bus,
        cache_ttl_s=settings.api_key_cache_ttl_s,
        touch_interval_s=settings.api_key_touch_interval_s,
        shared=runtime.cache,
    )
    await verifier.start()
    runtime.services.provide(KEY_VERIFIER, verifier)


async def _stop_api_keys(runtime: Runtime) -> None:
    verifier = runtime.services.pop(KEY_VERIFIER)
    if verifier is not None:
        await verifier.stop()


def api_keys_component() -> Component:
    """For the backend: API keys managed (``/api/v1/api-keys``) and accepted as credentials."""
    from netra.auth.api_keys_router import router

    return Component(
        "api-keys",
        routers=[router],
        start=_start_api_keys,
        stop=_stop_api_keys,
        provides=(KEY_VERIFIER,),
        needs=(VERIFIER,),
    )


def verification_component() -> Component:
    """For the backend and workers: verify tokens (public key, JWKS or shared secret)."""
    return Component(
        "token-verification",
        start=_start_verification,
        stop=_stop_verification,
        provides=(KEYS, VERIFIER),
    )


def auth_service_component() -> Component:
    """For the auth service: accounts, login, tokens, OAuth, introspection, JWKS."""
    from netra.auth.oauth_router import router as oauth_router
    from netra.auth.password_routes import router as password_router
    from netra.auth.router import router

    return Component(
        "auth",
        routers=[router, oauth_router, password_router],
        start=_start_auth_service,
        provides=(KEYS, VERIFIER, AUTH),
    )
