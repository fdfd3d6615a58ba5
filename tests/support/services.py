"""Real PostgreSQL and Redis for integration and e2e tests.

Uses the servers at NETRA_TEST_DATABASE_URL / NETRA_TEST_REDIS_URL (default: the local ones on
127.0.0.1). Where none answers, starts a throwaway server from the installed binaries; where the
binaries are missing, stops the run with the exact command to install them. Never skips.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _find_pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    return None


def _start_throwaway_postgres() -> str:
    initdb, pg_ctl = _find_pg_bin("initdb"), _find_pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.exit(
            "PostgreSQL is not answering and its binaries are missing. Install them with:\n"
            "  apt-get update && apt-get install -y postgresql",
            returncode=3,
        )
    port = free_port()
    datadir = Path(tempfile.mkdtemp(prefix="netra-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb and pg_ctl refuse root
        shutil.chown(datadir, "postgres", "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*run_as, initdb, "-D", str(datadir), "-U", "postgres", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*run_as, pg_ctl, "-D", str(datadir), "-w", "-l", str(datadir / "log"),
         "-o", f"-p {port} -k {datadir} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
        check=True,
        capture_output=True,
    )  # fmt: skip

    def stop() -> None:
        subprocess.run([*run_as, pg_ctl, "-D", str(datadir), "-m", "immediate", "stop"],
                       capture_output=True)  # fmt: skip
        shutil.rmtree(datadir, ignore_errors=True)

    atexit.register(stop)
    return f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"


def _start_throwaway_redis() -> str:
    binary = shutil.which("redis-server")
    if not binary:
        pytest.exit(
            "Redis is not answering and redis-server is missing. Install it with:\n"
            "  apt-get update && apt-get install -y redis-server",
            returncode=3,
        )
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    atexit.register(proc.terminate)
    for _ in range(100):
        if _answers("127.0.0.1", port):
            break
        time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/0"


_resolved: dict[str, str] = {}


def postgres_server_url() -> str:
    """URL of a PostgreSQL server's maintenance database (``postgres``)."""
    if "pg" not in _resolved:
        url = os.environ.get("NETRA_TEST_DATABASE_URL", DEFAULT_PG)
        parts = urlsplit(url)
        if _answers(parts.hostname or "127.0.0.1", parts.port or 5432):
            _resolved["pg"] = url
        else:
            _resolved["pg"] = _start_throwaway_postgres()
    return _resolved["pg"]


def redis_server_url() -> str:
    if "redis" not in _resolved:
        url = os.environ.get("NETRA_TEST_REDIS_URL", DEFAULT_REDIS)
        parts = urlsplit(url)
        if _answers(parts.hostname or "127.0.0.1", parts.port or 6379):
            _resolved["redis"] = url
        else:
            _resolved["redis"] = _start_throwaway_redis()
    return _resolved["redis"]


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _sync_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _run_async(factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    import asyncio

    with ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: asyncio.run(factory())).result()


def _admin(url: str, sql: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(_sync_dsn(url))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    _run_async(run)


@contextmanager
def fresh_postgres_database(migrate: bool = True) -> Iterator[str]:
    """A new, empty (or migrated) database on the test server; dropped afterwards."""
    server = postgres_server_url()
    name = f"netra_test_{uuid.uuid4().hex[:12]}"
    _admin(server, f'CREATE DATABASE "{name}"')
    url = with_database(server, name)
    try:
        if migrate:
            migrate_database(url)
        yield url
    finally:
        _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate_database(url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    from netra.core.migrate import upgrade

    async def run() -> None:
        engine = create_async_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    _run_async(run)


def new_redis_prefix() -> str:
    return f"netra-test-{uuid.uuid4().hex[:10]}:"


def flush_redis_prefix(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


async def rename_database(old: str, new: str) -> None:
    """A real outage of database ``old``: cut every connection to it and rename it, so new
    connections to it fail until it is renamed back."""
    import asyncio

    import asyncpg

    admin = await asyncpg.connect(_sync_dsn(postgres_server_url()))
    try:
        for _ in range(50):
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", old
            )
            try:
                await admin.execute(f'ALTER DATABASE "{old}" RENAME TO "{new}"')
                return
            except asyncpg.ObjectInUseError:
                await asyncio.sleep(0.1)
        raise AssertionError("could not take the database away")
    finally:
        await admin.close()
