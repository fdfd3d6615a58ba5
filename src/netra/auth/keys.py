"""Signing and verification keys, pinned to one algorithm by configuration.

- ``Ed25519`` (default) or ``RS256``: the auth service signs with a private PEM key; other
  services verify with the public key (``NETRA_JWT_PUBLIC_KEY``) or the auth service's JWKS
  (``NETRA_JWT_JWKS_URL``), fetched and cached.
- ``HS256``: one shared secret of at least 32 characters signs and verifies.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from joserfc.jwk import Key, KeySet, OctKey, OKPKey, RSAKey

from netra.core.errors import DependencyUnavailable
from netra.core.settings import MIN_SECRET_LENGTH, Settings


def _import_pem(pem: str, algorithm: str) -> Key:
    if algorithm == "RS256":
        return RSAKey.import_key(pem)
    return OKPKey.import_key(pem)


def key_id(key: Key) -> str:
    return key.thumbprint()


@dataclass
class KeyMaterial:
    algorithm: str
    signing_key: Key | None
    verify_keys: list[Key] = field(default_factory=list)
    jwks_url: str | None = None
    jwks_ttl_s: float = 300.0
    _jwks_fetched_at: float = 0.0
    jwks_error: str | None = None  # the last fetch failed; the cached keys are in use

    @property
    def can_sign(self) -> bool:
        return self.signing_key is not None

    def public_jwks(self) -> dict[str, Any]:
        """The JWKS of the public keys (empty for HS256: a shared secret is never published)."""
        if self.algorithm == "HS256":
            return {"keys": []}
        keys = []
        for key in self.verify_keys:
            data = key.as_dict(private=False)
            data.update({"kid": key_id(key), "alg": self.algorithm, "use": "sig"})
            keys.append(data)
        return {"keys": keys}

    async def refresh_jwks(self, *, force: bool = False) -> None:
        """Fetch the auth service's JWKS when stale (verify-only services)."""
        if self.jwks_url is None:
            return
        if (
            not force
            and self.verify_keys
            and time.monotonic() - self._jwks_fetched_at < self.jwks_ttl_s
        ):
            return
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                response = await client.get(self.jwks_url)
                response.raise_for_status()
                data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            if self.verify_keys:  # keep the cached keys while the auth service is away
                self.jwks_error = f"{type(exc).__name__}: {exc}"[:200]
                return
            raise DependencyUnavailable(f"cannot fetch JWKS from {self.jwks_url}: {exc}") from exc
        keyset = KeySet.import_key_set(
            {"keys": [k for k in data.get("keys", []) if k.get("alg") == self.algorithm]}
        )
        self.verify_keys = list(keyset.keys)
        self._jwks_fetched_at = time.monotonic()
        self.jwks_error = None


def load_keys(settings: Settings) -> KeyMaterial:
    """Key material from settings (after ``resolve_dev_secrets`` in development)."""
    alg = settings.jwt_algorithm
    if alg == "HS256":
        if settings.jwt_secret is None:
            raise ValueError("NETRA_JWT_SECRET is required for HS256")
        raw = settings.jwt_secret.get_secret_value()
        if len(raw) < MIN_SECRET_LENGTH:  # in every environment: a short HMAC key is guessable
            raise ValueError(f"NETRA_JWT_SECRET must be at least {MIN_SECRET_LENGTH} characters")
        secret = OctKey.import_key(raw)
        return KeyMaterial(alg, secret, [secret])
    signing: Key | None = None
    verify: list[Key] = []
    if settings.jwt_private_key is not None:
        private = _import_pem(settings.jwt_private_key.get_secret_value(), alg)
        assert isinstance(private, RSAKey | OKPKey)
        signing = private
        verify.append(_import_pem(private.as_pem(private=False).decode(), alg))
    if settings.jwt_public_key:
        verify.append(_import_pem(settings.jwt_public_key, alg))
    if not verify and not settings.jwt_jwks_url:
        raise ValueError(
            f"{alg} needs NETRA_JWT_PRIVATE_KEY, NETRA_JWT_PUBLIC_KEY or NETRA_JWT_JWKS_URL"
        )
    return KeyMaterial(alg, signing, verify, jwks_url=settings.jwt_jwks_url)
