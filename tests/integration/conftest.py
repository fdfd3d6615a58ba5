"""Integration tests run against real PostgreSQL and Redis.

One database per test session (created, migrated, dropped) and one Redis key prefix.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netra.core.settings import Settings
from support.redis_process import run_own_redis
from support.services import (
    flush_redis_prefix,
    fresh_postgres_database,
    new_redis_prefix,
    redis_server_url,
)

TEST_SECRETS_KEY = "bDcwYmwzb1ZqU3RfQ2d3cE9XeG5ndGlCMXNVbnRTZTc="  # a Fernet key for tests


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str:
    return redis_server_url()


@pytest.fixture
def own_database() -> Iterator[str]:
    """A migrated database of this test's own, for a test whose background sweeps must not see
    what other tests left in the session's database (pending webhook deliveries, queued runs)."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    prefix = new_redis_prefix()
    yield prefix
    flush_redis_prefix(redis_url, prefix)


@pytest.fixture
def pg_settings(tmp_path: Path, pg_url: str, redis_url: str, redis_prefix: str):  # type: ignore[no-untyped-def]
    """Settings on the session's PostgreSQL database and a fresh Redis prefix."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "env": "test",
            "data_dir": tmp_path / "netra",
            "webhook_allow_loopback": True,  # test receivers listen on 127.0.0.1
            "secrets_key": TEST_SECRETS_KEY,  # what resolve_dev_secrets would generate
            "register_ip_max": 10_000,  # suites sign many users up from one address
            "database_url": pg_url,
            "redis_url": redis_url,
            "redis_prefix": redis_prefix,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Redis server of this test's own (URL, process), so the test can stop it for real."""
    yield from run_own_redis(tmp_path)
