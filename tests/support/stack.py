"""The scaled-out pair as real processes on PostgreSQL and Redis: ``netra auth-service`` and
``netra api`` verifying through the auth service's JWKS (the README's deployment)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from support.servers import ServerProcess, server
from support.services import fresh_postgres_database, new_redis_prefix, redis_server_url


@contextmanager
def auth_and_api(data_dir: Path, **extra_env: str) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    with fresh_postgres_database() as pg_url:
        shared = {
            "NETRA_DATABASE_URL": pg_url,
            "NETRA_REDIS_URL": redis_server_url(),
            "NETRA_REDIS_PREFIX": new_redis_prefix(),
            **extra_env,
        }
        (data_dir / "auth").mkdir(parents=True, exist_ok=True)
        (data_dir / "api").mkdir(parents=True, exist_ok=True)
        with server("auth-service", {**shared, "NETRA_DATA_DIR": str(data_dir / "auth")}) as auth:
            api_env = {
                **shared,
                "NETRA_DATA_DIR": str(data_dir / "api"),
                "NETRA_JWT_JWKS_URL": f"{auth.url}/auth/.well-known/jwks.json",
                "NETRA_AUTH_SERVICE_URL": auth.url,
            }
            with server("api", api_env) as api:
                yield auth, api
