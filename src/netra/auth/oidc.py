"""OpenID Connect client (authorization code flow with ``state``, ``nonce`` and PKCE S256).

The provider is configured by its issuer URL and client credentials (Google by default; any
compliant provider). Its discovery document and keys are fetched and cached; the ID token is
verified here with the provider's keys and only asymmetric algorithms (never ``none``, never the
client secret as an HMAC key), its issuer, audience, authorized party, times and nonce checked.
Authlib builds the authorization URL and performs the code exchange.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from netra.core.errors import DependencyUnavailable, Forbidden, Unauthenticated
from netra.core.settings import Settings

SCOPE = "openid email profile"
# Asymmetric only: a provider offering HS256 would make the client secret a verification key.
ID_TOKEN_ALGORITHMS = ("RS256", "PS256", "ES256", "Ed25519", "EdDSA")
METADATA_TTL_S = 3600.0


class OidcError(Unauthenticated):
    """The provider's answer could not be trusted (bad ID token, refused code...)."""

    code = "oauth_failed"


class OidcDenied(Forbidden):
    """The provider signed the user in, but Netra does not accept this identity."""

    code = "oauth_denied"


@dataclass(frozen=True)
class Identity:
    subject: str
    email: str
    name: str | None


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str
    nonce: str
    code_verifier: str


def issuer_problem(settings: Settings) -> str | None:
    """Why the configured issuer URL is unusable here, or None."""
    issuer = settings.oauth_issuer
    if issuer.startswith("https://"):
        return None
    if issuer.startswith("http://") and settings.is_dev:
        return None  # a loopback test provider
    return "NETRA_OAUTH_ISSUER must be an https:// URL"


class OidcClient:
    """One configured provider."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = settings.oauth_provider
        self.issuer = settings.oauth_issuer.rstrip("/")
        self.client_id = settings.oauth_client_id or ""
        secret = settings.oauth_client_secret
        self.client_secret = secret.get_secret_value() if secret else ""
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None

    @property
    def redirect_uri(self) -> str:
        return f"{self.settings.public_url.rstrip('/')}/auth/oauth/{self.name}/callback"

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=10)

    def _oauth(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            scope=SCOPE,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",
            timeout=10,
        )

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with self._http() as client:
                response = await client.get(url)
                response.raise_for_status()
                data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise DependencyUnavailable(f"identity provider unreachable: {exc}") from exc
        if not isinstance(data, dict):
            raise DependencyUnavailable("identity provider answered with something not JSON")
        return data

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (cached), checked to name the configured issuer."""
        fresh = time.monotonic() - self._metadata_at < METADATA_TTL_S
        if self._metadata is not None and fresh:
            return self._metadata
        problem = issuer_problem(self.settings)
        if problem:
            raise DependencyUnavailable(problem)
        data = await self._get_json(self.issuer + "/.well-known/openid-configuration")
        if str(data.get("issuer", "")).rstrip("/") != self.issuer:
            raise DependencyUnavailable(
                f"the provider's discovery names issuer {data.get('issuer')!r}, "
                f"not the configured {self.issuer!r}"
            )
        for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(data.get(field), str):
                raise DependencyUnavailable(f"the provider's discovery lacks {field}")
        self._metadata, self._metadata_at = data, time.monotonic()
        return data

    async def keys(self, *, force: bool = False) -> KeySet:
        if self._keys is None or force:
            meta = await self.metadata()
            data = await self._get_json(meta["jwks_uri"])
            usable = [k for k in data.get("keys", []) if k.get("use", "sig") == "sig"]
            self._keys = KeySet.import_key_set({"keys": usable})
        return self._keys

    async def authorization_request(self) -> AuthorizationRequest:
        meta = await self.metadata()
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        async with self._oauth() as client:
            url, _ = client.create_authorization_url(
                meta["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce
            )
        return AuthorizationRequest(url=url, state=state, nonce=nonce, code_verifier=verifier)

    async def exchange_code(self, code: str, code_verifier: str) -> str:
        """The ID token for an authorization code (PKCE verifier included)."""
        meta = await self.metadata()
        try:
            async with self._oauth() as client:
                token = await client.fetch_token(
                    meta["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                    redirect_uri=self.redirect_uri,
                )
        except OAuthError as exc:
            raise OidcError(f"the provider refused the authorization code ({exc.error})") from exc
        except Exception as exc:
            # Authlib talks through httpx2 (or httpx): their transport errors mean "unreachable".
            if not type(exc).__module__.startswith(("httpx", "httpcore")):
                raise
            raise DependencyUnavailable(f"identity provider unreachable: {exc}") from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise OidcError("the provider returned no ID token")
        return id_token

    def _algorithms(self, meta: dict[str, Any]) -> list[str]:
        offered = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
        return [a for a in offered if a in ID_TOKEN_ALGORITHMS]

    async def verify_id_token(
        self, id_token: str, *, nonce: str, now: int | None = None
    ) -> dict[str, Any]:
        meta = await self.metadata()
        algorithms = self._algorithms(meta)
        if not algorithms:
            raise OidcError("the provider offers no acceptable ID token algorithm")
        keys = await self.keys()
        try:
            decoded = jwt.decode(id_token, keys, algorithms=algorithms)
        except (JoseError, ValueError, TypeError):
            try:  # the provider may have rotated its keys: fetch them once more
                keys = await self.keys(force=True)
                decoded = jwt.decode(id_token, keys, algorithms=algorithms)
            except (JoseError, ValueError, TypeError) as exc:
                raise OidcError("the ID token's signature is not valid") from exc
        claims = dict(decoded.claims)
        check_id_token_claims(
            claims,
            issuer=self.issuer,
            client_id=self.client_id,
            nonce=nonce,
            leeway_s=self.settings.jwt_leeway_s,
            now=now,
        )
        return claims


def check_id_token_claims(
    claims: dict[str, Any],
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    leeway_s: int = 5,
    now: int | None = None,
) -> None:
    """OpenID Connect Core 3.1.3.7: issuer, audience, authorized party, expiry, nonce."""
    registry = jwt.JWTClaimsRegistry(
        now=(lambda: now) if now is not None else None,
        leeway=leeway_s,
        iss={"essential": True, "value": issuer},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise OidcError(f"the ID token is not valid: {exc}") from exc
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if client_id not in audiences:
        raise OidcError("the ID token was issued for another client")
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise OidcError("the ID token's authorized party is another client")
    if not isinstance(claims.get("nonce"), str) or claims["nonce"] != nonce:
        raise OidcError("the ID token's nonce does not match this sign-in")


def identity_from_claims(claims: dict[str, Any], allowed_domains: list[str]) -> Identity:
    """The verified e-mail identity, or ``OidcDenied`` (unverified, domain not allowed)."""
    email = claims.get("email")
    verified = claims.get("email_verified")
    if isinstance(verified, str):  # some providers send "true"
        verified = verified.lower() == "true"
    if not isinstance(email, str) or "@" not in email:
        raise OidcDenied("the provider did not share an e-mail address")
    if verified is not True:
        raise OidcDenied("the provider has not verified this e-mail address")
    email = email.strip().lower()
    domain = email.rsplit("@", 1)[1]
    if allowed_domains and domain not in allowed_domains:
        raise OidcDenied(f"sign-in with an address at {domain} is not allowed here")
    name = claims.get("name")
    return Identity(str(claims["sub"]), email, name if isinstance(name, str) else None)


def provider_error_message(error: str, description: str | None = None) -> str:
    """A user-facing sentence for an OAuth error the provider sent back."""
    known = {
        "access_denied": "sign-in was cancelled or refused at the identity provider",
        "login_required": "the identity provider needs you to sign in",
        "consent_required": "the identity provider needs your consent",
        "interaction_required": "the identity provider needs you to interact",
        "temporarily_unavailable": "the identity provider is temporarily unavailable",
        "server_error": "the identity provider had an error",
    }
    safe = "".join(ch for ch in error if ch.isalnum() or ch in "_-")[:64]
    return known.get(safe, f"the identity provider refused the sign-in ({safe or 'unknown'})")
