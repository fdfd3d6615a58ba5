"""Database: engine, session factory, the unit of work, and transient-error retries.

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) the scaled-out one. Services
only ``flush``; the unit of work is the one boundary that commits.
"""

from __future__ import annotations

import errno
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, MetaData, String, event, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from netra.core.settings import Settings

T = TypeVar("T")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    return uuid.uuid4().hex


def derived_id(*parts: str) -> str:
    """The same id for the same parts, shaped as ``new_id``: what a step re-executed after its
    worker died creates again (a run's report, its budget) is found, not created twice."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "netra:" + "/".join(parts)).hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on both engines (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class IdMixin:
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)


class CreatedMixin:
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, nullable=False)


def engine_options(settings: Settings) -> dict[str, Any]:
    """Pool and driver options from configuration (PostgreSQL pools; SQLite does not)."""
    url = settings.effective_database_url
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    return {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout_s,
        # No pre-ping (a round trip before every transaction): a connection the server closed
        # is replaced at checkout when its driver saw it close (``_replace_closed``), and one
        # that dies unnoticed fails its first statement, which ``Database.run`` retries.
        "pool_pre_ping": False,
        "pool_recycle": 1800,
    }


def build_engine(settings: Settings) -> AsyncEngine:
    url = settings.effective_database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, **engine_options(settings))
    if not url.startswith("sqlite"):
        event.listen(engine.sync_engine, "checkout", _replace_closed)
    if url.startswith("sqlite"):

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

    return engine


def _replace_closed(dbapi_conn: Any, record: Any, proxy: Any) -> None:
    """A pooled connection its driver knows closed (a restarted server, an idle timeout) is
    replaced by the pool before use: no round trip, unlike a pre-ping."""
    driver = getattr(dbapi_conn, "driver_connection", None)
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the database closed this pooled connection")


class Database:
    """The engine and session factory of one process, built in the app's lifespan."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = build_engine(settings)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """One transaction: commits once when the block ends, rolls back whole on error.

        Work registered with :func:`after_commit` runs only once the commit succeeded.
        """
        async with self.sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
            for callback in session.info.pop(_AFTER_COMMIT, []):
                await callback()

    def _retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_attempt(max(1, self.settings.db_connect_retries)),
            wait=wait_exponential(multiplier=0.05, max=1.0),
            reraise=True,
        )

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``work`` in a unit of work, retrying the whole of it on transient errors."""
        async for attempt in self._retrying():
            with attempt:
                async with self.unit_of_work() as session:
                    return await work(session)
        raise AssertionError("unreachable")  # pragma: no cover

    async def read(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``work``, a single read, outside a transaction (autocommit): no BEGIN and
        COMMIT round trips around it. Only for work of one statement, or of reads that need
        no common snapshot; it must not write. Retried like :meth:`run`."""
        async for attempt in self._retrying():
            with attempt:
                async with self.engine.connect() as conn:
                    auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                    async with AsyncSession(bind=auto, expire_on_commit=False) as session:
                        return await work(session)
        raise AssertionError("unreachable")  # pragma: no cover


_AFTER_COMMIT = "netra_after_commit"


def after_commit(session: AsyncSession, callback: Callable[[], Awaitable[None]]) -> None:
    """Run ``callback`` after this session's unit of work commits (never if it rolls back).

    Background work (enqueueing a run, publishing an event) goes here, never before the commit.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


_TRANSIENT_SQLSTATES = {"40001", "40P01", "57P01", "57P02", "57P03", "08000", "08003", "08006"}


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the same transaction may succeed: lost connections, serialization
    failures and deadlocks are transient; constraint violations and bad SQL are not."""
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        orig = exc.orig
        sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        if sqlstate in _TRANSIENT_SQLSTATES:
            return True
        if isinstance(exc, InterfaceError):
            return True
        if isinstance(exc, OperationalError):
            msg = str(orig).lower()
            return "locked" in msg or "connection" in msg or "timeout" in msg
    return False


# SQLSTATE classes that mean "the server is not there for us", not "your statement is wrong":
# connection exceptions, insufficient resources, operator intervention, unknown database.
_UNAVAILABLE_STATES = ("08", "53", "57", "3D")


# errno values of a server that cannot be reached (the driver connecting raises them bare).
_NETWORK_ERRNOS = frozenset({
    errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EHOSTUNREACH,
    errno.ENETUNREACH, errno.ETIMEDOUT, errno.EPIPE,
})  # fmt: skip


def _unreachable(exc: OSError) -> bool:
    """A network failure, not a file's: those stay 500 (a full disk is not a database outage)."""
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        return True
    # asyncio's connect to every address of a name: "Multiple exceptions: [Errno 111] ..."
    return exc.errno in _NETWORK_ERRNOS or str(exc).startswith("Multiple exceptions")


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached (an outage), not that the work was
    wrong; ``core/http_errors.py`` answers these 503 on every router."""
    if isinstance(exc, OSError):
        return _unreachable(exc)
    if isinstance(exc, PoolTimeout | InterfaceError | OperationalError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or is_transient(exc):
            return True
        orig = exc.orig
        state = str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
        return state.startswith(_UNAVAILABLE_STATES) or isinstance(
            getattr(orig, "__cause__", None), OSError
        )
    return False
