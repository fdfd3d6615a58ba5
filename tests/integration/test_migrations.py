"""`netra migrate` brings an empty SQLite file and an empty PostgreSQL database to one schema."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from netra.core.migrate import head_revision
from support.services import fresh_postgres_database


async def _schema(url: str) -> dict[str, set[str]]:
    def read(conn: Connection) -> dict[str, set[str]]:
        insp = inspect(conn)
        return {t: {c["name"] for c in insp.get_columns(t)} for t in insp.get_table_names()}

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(read)
    finally:
        await engine.dispose()


def _migrate(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("NETRA_")}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "netra", "migrate"], env=full,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


async def test_sqlite_and_postgres_reach_the_same_schema(tmp_path: Path) -> None:
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    done = _migrate({"NETRA_DATABASE_URL": sqlite_url})
    assert done.returncode == 0, done.stderr
    assert str(head_revision()) in done.stdout
    with fresh_postgres_database(migrate=False) as pg_url:
        done = _migrate({"NETRA_DATABASE_URL": pg_url})
        assert done.returncode == 0, done.stderr
        again = _migrate({"NETRA_DATABASE_URL": pg_url})  # idempotent
        assert again.returncode == 0, again.stderr
        pg = await _schema(pg_url)
    lite = await _schema(sqlite_url)
    assert "alembic_version" in lite and "audit_events" in lite
    assert lite == pg
