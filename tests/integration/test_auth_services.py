"""I4 and I6: the auth service (a real ``netra auth-service`` process) and the backend (the
``netra api`` app, verify-only: JWKS fetched from the auth service) as separate apps on one
PostgreSQL and Redis; login throttling shared by two auth-service instances."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from netra.apps import api, auth_service
from netra.core.lifecycle import StartupError
from support.accounts import bearer, new_email, signup, signup_sync
from support.apps import running_app
from support.servers import ServerProcess, server
from support.services import flush_redis_prefix, new_redis_prefix

SERVICE_TOKEN = "i4-service-credential-8d7c6b5a4f3e2d1c0b9a"


def ed25519_pem() -> tuple[str, str]:
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture(scope="module")
def auth_proc(
    pg_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, str]]:
    prefix = new_redis_prefix()
    private, _ = ed25519_pem()
    env = {
        "NETRA_DATA_DIR": str(tmp_path_factory.mktemp("auth")),
        "NETRA_DATABASE_URL": pg_url,
        "NETRA_REDIS_URL": redis_url,
        "NETRA_REDIS_PREFIX": prefix,
        "NETRA_JWT_PRIVATE_KEY": private,
        "NETRA_JWT_ISSUER": "netra-i4",
        "NETRA_SERVICE_TOKEN": SERVICE_TOKEN,
    }
    with server("auth-service", env) as proc:
        yield proc, prefix
    flush_redis_prefix(redis_url, prefix)


@pytest.fixture
def backend_settings(
    auth_proc: tuple[ServerProcess, str], pg_url: str, redis_url: str, tmp_path: Path
) -> Any:
    proc, prefix = auth_proc
    from netra.core.settings import Settings

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "env": "test",
            "data_dir": tmp_path / "api",
            "database_url": pg_url,
            "redis_url": redis_url,
            "redis_prefix": prefix,
            "jwt_issuer": "netra-i4",
            "jwt_jwks_url": f"{proc.url}/auth/.well-known/jwks.json",
            "auth_service_url": proc.url,
            "service_token": SERVICE_TOKEN,
        }
        values.update(overrides)
        return Settings(**values)

    return make


SUMMARY = "/api/v1/usage/summary"


async def test_login_at_auth_service_use_at_backend_and_logout_is_honoured(
    auth_proc: tuple[ServerProcess, str], backend_settings: Any
) -> None:
    proc, _ = auth_proc
    async with httpx.AsyncClient(base_url=proc.url) as auth:
        acct = await signup(auth)
        async with running_app(api.create_app(backend_settings())) as backend:
            assert (await backend.get(SUMMARY)).status_code == 401
            ok = await backend.get(SUMMARY, headers=bearer(acct["access_token"]))
            assert ok.status_code == 200, ok.text
            out = await auth.post("/auth/logout", headers=bearer(acct["access_token"]))
            assert out.status_code == 204
            revoked = await backend.get(SUMMARY, headers=bearer(acct["access_token"]))
            assert revoked.status_code == 401


async def test_refresh_reuse_at_auth_service_revokes_at_backend(
    auth_proc: tuple[ServerProcess, str], backend_settings: Any
) -> None:
    proc, _ = auth_proc
    async with httpx.AsyncClient(base_url=proc.url) as auth:
        acct = await signup(auth)
        rotated = await auth.post("/auth/refresh", json={"refresh_token": acct["refresh_token"]})
        headers = bearer(rotated.json()["access_token"])
        async with running_app(api.create_app(backend_settings())) as backend:
            assert (await backend.get(SUMMARY, headers=headers)).status_code == 200
            reuse = await auth.post("/auth/refresh", json={"refresh_token": acct["refresh_token"]})
            assert reuse.status_code == 401
            assert (await backend.get(SUMMARY, headers=headers)).status_code == 401


def test_introspection_with_the_service_credential(auth_proc: tuple[ServerProcess, str]) -> None:
    proc, _ = auth_proc
    acct = signup_sync(proc.url)
    url = f"{proc.url}/auth/introspect"
    body = {"token": acct["access_token"]}
    assert httpx.post(url, json=body).status_code == 401
    assert httpx.post(url, json=body, headers=bearer("wrong" * 10)).status_code == 401
    active = httpx.post(url, json=body, headers=bearer(SERVICE_TOKEN)).json()
    assert active["active"] is True and active["sub"] == acct["user"]["id"]
    httpx.post(f"{proc.url}/auth/logout", headers=bearer(acct["access_token"]))
    assert httpx.post(url, json=body, headers=bearer(SERVICE_TOKEN)).json() == {"active": False}


async def test_backend_with_matching_configuration_starts(backend_settings: Any) -> None:
    async with running_app(api.create_app(backend_settings())) as backend:
        assert (await backend.get("/health/ready")).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"jwt_issuer": "someone-else"}, ["NETRA_JWT_ISSUER"]),
        ({"jwt_audience": "another-api"}, ["NETRA_JWT_AUDIENCE"]),
        (
            {"jwt_jwks_url": None, "jwt_public_key": ed25519_pem()[1]},
            ["signing keys differ"],
        ),
        (
            {"jwt_issuer": "x", "jwt_algorithm": "HS256", "jwt_secret": "h" + "9a" * 20},
            ["NETRA_JWT_ISSUER", "NETRA_JWT_ALGORITHM"],
        ),
    ],
)
async def test_backend_refuses_to_start_when_it_disagrees_with_the_auth_service(
    backend_settings: Any, overrides: dict[str, Any], expected: list[str]
) -> None:
    """I6: each difference is named at start-up; the backend never starts half-configured."""
    with pytest.raises(StartupError) as failure:
        async with running_app(api.create_app(backend_settings(**overrides))):
            pass
    message = str(failure.value)
    for words in expected:
        assert words in message, message


async def test_login_throttle_is_shared_by_two_instances(pg_settings: Any) -> None:
    settings = pg_settings(login_max_failures=4, jwt_algorithm="HS256", jwt_secret="t" + "7b" * 20)
    app_a, app_b = auth_service.create_app(settings), auth_service.create_app(settings)
    async with running_app(app_a) as a, running_app(app_b) as b:
        acct = await signup(a)
        wrong = {"email": acct["email"], "password": "not-the-password"}
        answers = [
            (await client.post("/auth/login", json=wrong)).status_code for client in [a, b] * 2
        ]
        assert answers == [401] * 4
        locked_a = await a.post("/auth/login", json=wrong)
        locked_b = await b.post(
            "/auth/login", json={"email": acct["email"], "password": acct["password"]}
        )
        assert locked_a.status_code == locked_b.status_code == 429
        assert int(locked_b.headers["retry-after"]) > 0
        # Another account from elsewhere is unaffected.
        other = await signup(b, email=new_email())
        fine = await a.post(
            "/auth/login", json={"email": other["email"], "password": other["password"]}
        )
        assert fine.status_code == 200
