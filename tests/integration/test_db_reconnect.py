"""Without the pool's pre-ping, connections the server closed (a PostgreSQL restart, an admin
kill) are still never seen by callers: replaced at checkout, or the work retried."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from netra.core.db import Database
from support.services import _sync_dsn, postgres_server_url


async def _kill_connections_to(url: str) -> int:
    name = url.rsplit("/", 1)[1].split("?")[0]
    admin = await asyncpg.connect(_sync_dsn(postgres_server_url()))
    try:
        killed = await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        return len(killed)
    finally:
        await admin.close()


async def _backend_pid(s: AsyncSession) -> int:
    return int((await s.execute(text("SELECT pg_backend_pid()"))).scalar_one())


@pytest.fixture
async def db(pg_settings: Callable[..., Any], own_database: str) -> AsyncIterator[Database]:
    """A pool of one connection on a database of the test's own (its backends get killed)."""
    database = Database(pg_settings(database_url=own_database, db_pool_size=1, db_max_overflow=0))
    try:
        yield database
    finally:
        await database.close()


async def test_run_retries_work_on_a_connection_killed_under_it(
    db: Database, own_database: str
) -> None:
    first = await db.run(_backend_pid)
    assert await _kill_connections_to(own_database) >= 1
    # At once: whether or not the driver noticed yet, the work is done on a new connection.
    assert await db.run(_backend_pid) != first


async def test_a_unit_of_work_gets_a_live_connection_after_a_server_kill(
    db: Database, own_database: str
) -> None:
    async with db.unit_of_work() as s:
        first = await _backend_pid(s)
        driver = (await (await s.connection()).get_raw_connection()).driver_connection
    assert await _kill_connections_to(own_database) >= 1
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not driver.is_closed():  # the server's goodbye reaches the idle pooled socket
        assert loop.time() < deadline, "the driver never saw its connection close"
        await asyncio.sleep(0.01)
    async with db.unit_of_work() as s:  # no retry here: replaced at checkout
        assert await _backend_pid(s) != first


async def test_read_runs_outside_a_transaction_and_is_retried_like_run(
    db: Database, own_database: str
) -> None:
    async def in_transaction(s: AsyncSession) -> bool:
        # A setting made local to the transaction is still there for the next statement of
        # the same transaction, gone when each statement is a transaction of its own.
        await s.execute(text("SELECT set_config('netra.probe', 'set', true)"))
        kept = (await s.execute(text("SELECT current_setting('netra.probe', true)"))).scalar()
        return kept == "set"

    assert await db.run(in_transaction) is True
    assert await db.read(in_transaction) is False
    pid = await db.read(_backend_pid)
    assert await _kill_connections_to(own_database) >= 1
    assert await db.read(_backend_pid) != pid  # the dead connection replaced, or retried
