"""JWT access tokens: issue with the user's claims, verify with pinned algorithm, iss and aud.

Claims (API.md): ``iss, aud, sub, org, tier, role, perms, jti, iat, exp``. Verification refuses
``alg: none``, any algorithm other than the configured one (no algorithm confusion), a wrong
issuer or audience, expired and not-yet-valid tokens, and bad signatures.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from functools import lru_cache

from joserfc import jwt
from joserfc.errors import JoseError

from netra.auth.keys import KeyMaterial, key_id
from netra.auth.roles import ROLE_PERMISSIONS as ROLE_PERMISSIONS  # the table lives in roles
from netra.auth.roles import permissions_for
from netra.core.context import UserContext
from netra.core.errors import Unauthenticated
from netra.core.settings import Settings


@lru_cache(maxsize=256)
def _permission_set(perms: tuple[str, ...]) -> frozenset[str]:
    """One shared set per distinct list of permissions (one per role, in practice), not one per
    token: every open WebSocket holds its context for its whole life."""
    return frozenset(perms)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    sub: str
    org: str
    tier: str
    role: str
    perms: tuple[str, ...]
    jti: str
    iat: int
    exp: int
    sid: str | None = None  # the refresh-token family (sign-in session) it was issued in

    def context(self, **extra: object) -> UserContext:
        return UserContext(
            user_id=self.sub,
            org_id=self.org,
            tier=self.tier,
            role=self.role,
            permissions=_permission_set(self.perms),
            token_id=self.jti,
            token_exp=self.exp,
            session_id=self.sid,
            **extra,  # type: ignore[arg-type]
        )


def issue_access_token(
    keys: KeyMaterial,
    settings: Settings,
    *,
    user_id: str,
    org_id: str,
    tier: str,
    role: str,
    now: int | None = None,
    ttl_s: int | None = None,
    session_id: str | None = None,
) -> tuple[str, AccessClaims]:
    if keys.signing_key is None:
        raise RuntimeError("this process has no signing key")
    issued = int(time.time()) if now is None else now
    claims = AccessClaims(
        sub=user_id,
        org=org_id,
        tier=tier,
        role=role,
        perms=tuple(permissions_for(role)),
        jti=uuid.uuid4().hex,
        iat=issued,
        exp=issued + (settings.access_token_ttl_s if ttl_s is None else ttl_s),
        sid=session_id,
    )
    payload = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": claims.sub,
        "org": claims.org,
        "tier": claims.tier,
        "role": claims.role,
        "perms": list(claims.perms),
        "jti": claims.jti,
        "iat": claims.iat,
        "nbf": claims.iat,
        "exp": claims.exp,
    }
    if claims.sid is not None:
        payload["sid"] = claims.sid
    header = {"alg": keys.algorithm, "typ": "JWT"}
    if keys.algorithm != "HS256":
        header["kid"] = key_id(keys.signing_key)
    token = jwt.encode(header, payload, keys.signing_key, algorithms=[keys.algorithm])
    return token, claims


def decode_access_token(
    keys: KeyMaterial, settings: Settings, token: str, *, now: int | None = None
) -> AccessClaims:
    """Verify signature, algorithm, issuer, audience and times; raise ``Unauthenticated``."""
    if not token or token.count(".") != 2:
        raise Unauthenticated("malformed token")
    last_error: Exception | None = None
    decoded = None
    for key in keys.verify_keys:
        try:
            # Only the configured algorithm is accepted: 'none' and confusion are refused here.
            decoded = jwt.decode(token, key, algorithms=[keys.algorithm])
            break
        except (JoseError, ValueError, TypeError) as exc:
            last_error = exc
    if decoded is None:
        raise Unauthenticated(f"invalid token: {_reason(last_error)}")
    if decoded.header.get("alg") != keys.algorithm:
        raise Unauthenticated("invalid token: algorithm not allowed")
    registry = jwt.JWTClaimsRegistry(
        now=(lambda: now) if now is not None else None,
        leeway=settings.jwt_leeway_s,
        iss={"essential": True, "value": settings.jwt_issuer},
        aud={"essential": True, "value": settings.jwt_audience},
        sub={"essential": True},
        jti={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        org={"essential": True},
    )
    try:
        registry.validate(decoded.claims)
    except JoseError as exc:
        raise Unauthenticated(f"invalid token: {_reason(exc)}") from exc
    c = decoded.claims
    try:
        return AccessClaims(
            sub=str(c["sub"]),
            org=str(c["org"]),
            tier=str(c.get("tier", "free")),
            role=str(c.get("role", "member")),
            perms=tuple(str(p) for p in c.get("perms", [])),
            jti=str(c["jti"]),
            iat=int(c["iat"]),
            exp=int(c["exp"]),
            sid=str(c["sid"]) if c.get("sid") is not None else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise Unauthenticated("invalid token: bad claims") from exc


def _reason(exc: Exception | None) -> str:
    if exc is None:
        return "no verification key"
    text = getattr(exc, "description", None) or str(exc) or type(exc).__name__
    return str(text)[:120]
