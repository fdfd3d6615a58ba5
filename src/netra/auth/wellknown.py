"""The auth service's configuration document, and the start-up check other services run on it.

A backend verifying tokens with an issuer, audience, algorithm or key other than the auth
service's would refuse every token (or worse, accept someone else's): it compares its own view
with ``GET /auth/.well-known/netra-configuration`` at start-up and refuses to start on any
difference, naming each one.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import httpx

from netra.auth.keys import KeyMaterial, key_id
from netra.core.settings import Settings

CONFIG_PATH = "/auth/.well-known/netra-configuration"


def key_check(keys: KeyMaterial, settings: Settings) -> list[str]:
    """Identifiers of the verification keys: JWK thumbprints, or for a shared secret a keyed
    check value (HMAC of a fixed label; any signed token already is such a value)."""
    if keys.algorithm == "HS256":
        if settings.jwt_secret is None:
            return []
        secret = settings.jwt_secret.get_secret_value().encode()
        return ["hs256:" + hmac.new(secret, b"netra-key-check", hashlib.sha256).hexdigest()[:24]]
    return sorted(key_id(k) for k in keys.verify_keys)


def service_configuration(settings: Settings, keys: KeyMaterial) -> dict[str, Any]:
    return {
        "issuer": settings.jwt_issuer,
        "audience": settings.jwt_audience,
        "algorithm": keys.algorithm,
        "key_ids": key_check(keys, settings),
        "access_token_ttl_s": settings.access_token_ttl_s,
        # What the sign-in page offers: single sign-on only when it is configured.
        "oauth_providers": [settings.oauth_provider] if settings.oauth_enabled else [],
    }


def configuration_differences(local: dict[str, Any], remote: dict[str, Any]) -> list[str]:
    """One line per setting that differs between this service and the auth service."""
    problems: list[str] = []
    names = {
        "issuer": "NETRA_JWT_ISSUER",
        "audience": "NETRA_JWT_AUDIENCE",
        "algorithm": "NETRA_JWT_ALGORITHM",
    }
    for field, env in names.items():
        if local.get(field) != remote.get(field):
            problems.append(
                f"{env} differs: this service has {local.get(field)!r}, "
                f"the auth service {remote.get(field)!r}"
            )
    mine, theirs = set(local.get("key_ids") or []), set(remote.get("key_ids") or [])
    if mine and theirs and not (mine & theirs):
        problems.append(
            "signing keys differ: none of this service's verification keys "
            f"({', '.join(sorted(mine))}) is the auth service's ({', '.join(sorted(theirs))})"
        )
    return problems


async def fetch_configuration(auth_service_url: str, timeout_s: float = 5.0) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=timeout_s) as client:
        response = await client.get(auth_service_url.rstrip("/") + CONFIG_PATH)
        response.raise_for_status()
        data = response.json()
    if not isinstance(data, dict):
        raise ValueError("the auth service's configuration is not a JSON object")
    return data
