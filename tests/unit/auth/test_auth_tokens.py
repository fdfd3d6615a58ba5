"""U1: access tokens: claims, expiry, and every refusal (each fails if its check is removed)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from joserfc import jwt
from joserfc.jwk import RSAKey
from pydantic import SecretStr

from netra.auth.keys import KeyMaterial, load_keys
from netra.auth.tokens import ROLE_PERMISSIONS, decode_access_token, issue_access_token
from netra.core.errors import Unauthenticated
from netra.core.settings import Settings, validate_settings

SECRET = "k3Y-for-tests-9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def _pem(key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def settings_for(alg: str, **extra: Any) -> Settings:
    if alg == "HS256":
        extra.setdefault("jwt_secret", SecretStr(SECRET))
    elif alg == "RS256":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        extra.setdefault("jwt_private_key", SecretStr(_pem(key)))
    else:
        extra.setdefault("jwt_private_key", SecretStr(_pem(ed25519.Ed25519PrivateKey.generate())))
    return Settings(env="test", jwt_algorithm=alg, **extra)


def issue(keys: KeyMaterial, settings: Settings, **kw: Any) -> str:
    token, _ = issue_access_token(
        keys, settings, user_id="u1", org_id="o1", tier="mid", role="member", **kw
    )
    return token


def b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def payload_of(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # type: ignore[no-any-return]


@pytest.fixture(params=["Ed25519", "RS256", "HS256"])
def setup(request: pytest.FixtureRequest) -> tuple[KeyMaterial, Settings]:
    settings = settings_for(request.param)
    return load_keys(settings), settings


def test_token_carries_the_users_claims_and_permissions(
    setup: tuple[KeyMaterial, Settings],
) -> None:
    keys, settings = setup
    token = issue(keys, settings, session_id="fam1")
    claims = decode_access_token(keys, settings, token)
    assert (claims.sub, claims.org, claims.tier, claims.role) == ("u1", "o1", "mid", "member")
    assert set(claims.perms) == set(ROLE_PERMISSIONS["member"]) and "org:admin" not in claims.perms
    assert claims.exp - claims.iat == 900 and claims.sid == "fam1"
    raw = payload_of(token)
    assert raw["iss"] == settings.jwt_issuer and raw["aud"] == settings.jwt_audience
    assert {"sub", "org", "tier", "role", "perms", "jti", "iat", "exp"} <= set(raw)


def test_expired_and_not_yet_valid_tokens_are_refused(setup: tuple[KeyMaterial, Settings]) -> None:
    keys, settings = setup
    now = int(time.time())
    old = issue(keys, settings, now=now - 3600, ttl_s=60)
    with pytest.raises(Unauthenticated, match="expired"):
        decode_access_token(keys, settings, old)
    future = issue(keys, settings, now=now + 3600)
    with pytest.raises(Unauthenticated):
        decode_access_token(keys, settings, future)
    # Within the leeway an almost-expired token still passes (the check is on time, not luck).
    fresh = issue(keys, settings, now=now - 60, ttl_s=62)
    assert decode_access_token(keys, settings, fresh).sub == "u1"


@pytest.mark.parametrize(
    ("field", "value"), [("jwt_audience", "other-api"), ("jwt_issuer", "someone-else")]
)
def test_wrong_audience_or_issuer_is_refused(
    setup: tuple[KeyMaterial, Settings], field: str, value: str
) -> None:
    keys, settings = setup
    token = issue(keys, settings.model_copy(update={field: value}))
    with pytest.raises(Unauthenticated):
        decode_access_token(keys, settings, token)


def test_alg_none_is_refused(setup: tuple[KeyMaterial, Settings]) -> None:
    keys, settings = setup
    payload = payload_of(issue(keys, settings))
    payload["role"] = "owner"
    for alg in ("none", "None", "NONE"):
        forged = f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(payload)}."
        with pytest.raises(Unauthenticated):
            decode_access_token(keys, settings, forged)


def test_tampered_payload_is_refused(setup: tuple[KeyMaterial, Settings]) -> None:
    keys, settings = setup
    header, _, signature = issue(keys, settings).split(".")
    payload = payload_of(issue(keys, settings))
    payload["role"], payload["perms"] = "owner", list(ROLE_PERMISSIONS["owner"])
    with pytest.raises(Unauthenticated):
        decode_access_token(keys, settings, f"{header}.{b64(payload)}.{signature}")


def test_token_signed_by_another_key_is_refused(setup: tuple[KeyMaterial, Settings]) -> None:
    keys, settings = setup
    other = settings_for(settings.jwt_algorithm, jwt_secret=SecretStr(SECRET[::-1]))
    with pytest.raises(Unauthenticated):
        decode_access_token(keys, settings, issue(load_keys(other), other))


@pytest.mark.parametrize("alg", ["RS256", "Ed25519"])
def test_algorithm_confusion_public_key_as_hmac_secret_is_refused(alg: str) -> None:
    """The classic attack: sign HS256 with the (public) verification key as the HMAC secret."""
    settings = settings_for(alg)
    keys = load_keys(settings)
    public_pem = keys.verify_keys[0].as_pem(private=False)
    payload = payload_of(issue(keys, settings))
    payload["role"] = "owner"
    # By hand: joserfc itself refuses to make an HMAC key of a PEM, an attacker would not.
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(payload)}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{b64(mac)}"
    with pytest.raises(Unauthenticated):
        decode_access_token(keys, settings, forged)


def test_hs256_service_refuses_an_rs256_token() -> None:
    settings = settings_for("HS256")
    keys = load_keys(settings)
    attacker = RSAKey.generate_key(2048)
    payload = payload_of(issue(keys, settings))
    forged = jwt.encode({"alg": "RS256"}, payload, attacker, algorithms=["RS256"])
    with pytest.raises(Unauthenticated):
        decode_access_token(keys, settings, forged)


@pytest.mark.parametrize("claim", ["jti", "org", "sub", "exp", "iat"])
def test_token_missing_an_essential_claim_is_refused(claim: str) -> None:
    settings = settings_for("HS256")
    keys = load_keys(settings)
    payload = payload_of(issue(keys, settings))
    del payload[claim]
    assert keys.signing_key is not None
    token = jwt.encode({"alg": "HS256"}, payload, keys.signing_key, algorithms=["HS256"])
    with pytest.raises(Unauthenticated):
        decode_access_token(keys, settings, token)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b", "a.b.c", "....", "x" * 50])
def test_malformed_tokens_are_refused(garbage: str) -> None:
    settings = settings_for("HS256")
    with pytest.raises(Unauthenticated):
        decode_access_token(load_keys(settings), settings, garbage)


def test_short_shared_secret_is_refused_everywhere() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        load_keys(
            Settings(env="development", jwt_algorithm="HS256", jwt_secret=SecretStr("s" * 31))
        )


@pytest.mark.parametrize(
    "secret", ["short-secret", "changeme-changeme-changeme-changeme", "a" * 40]
)
def test_weak_or_placeholder_secret_is_refused_outside_development(secret: str) -> None:
    settings = Settings(env="production", jwt_algorithm="HS256", jwt_secret=SecretStr(secret))
    assert any(p.startswith("NETRA_JWT_SECRET") for p in validate_settings(settings))


def test_argon2_below_owasp_minimum_is_refused_outside_development() -> None:
    weak = Settings(env="production", argon2_memory_kib=8192)
    assert any("ARGON2" in p for p in validate_settings(weak))
    sound = Settings(env="production")
    assert not any("ARGON2" in p for p in validate_settings(sound))
