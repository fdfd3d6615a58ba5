"""`netra serve` as a real process: embedded defaults, then on PostgreSQL and Redis."""

from __future__ import annotations

from pathlib import Path

import httpx

from support.servers import server
from support.services import fresh_postgres_database, new_redis_prefix, redis_server_url


def test_embedded_serve_is_ready_with_each_dependency(tmp_path: Path) -> None:
    with server("serve", {"NETRA_DATA_DIR": str(tmp_path)}) as srv:
        ready = httpx.get(f"{srv.url}/health/ready").json()
        assert ready["status"] == "ok"
        assert {"database", "cache", "bus", "queue"} <= set(ready["dependencies"])
        assert all(d["status"] == "up" for d in ready["dependencies"].values())
        assert "sqlite" in ready["dependencies"]["database"]["target"]
        assert httpx.get(f"{srv.url}/docs").status_code == 200
        assert (tmp_path / "netra.db").exists()


def test_serve_on_postgres_and_redis(tmp_path: Path) -> None:
    with fresh_postgres_database(migrate=False) as pg_url:
        env = {
            "NETRA_DATA_DIR": str(tmp_path),
            "NETRA_DATABASE_URL": pg_url,
            "NETRA_REDIS_URL": redis_server_url(),
            "NETRA_REDIS_PREFIX": new_redis_prefix(),
        }
        with server("serve", env) as srv:
            deps = httpx.get(f"{srv.url}/health/ready").json()["dependencies"]
            assert "postgresql" in deps["database"]["target"]
            assert deps["redis"]["status"] == "up"
