"""U8: unit of work, transient-error classification and retries, pool settings."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import String, select
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from netra.core.db import Database, after_commit, engine_options, is_transient
from netra.core.repository import OrgRepository


class _Base(DeclarativeBase):
    pass


class Note(_Base):
    __tablename__ = "notes"
    id: Mapped[str] = mapped_column(String, primary_key=True)
    org_id: Mapped[str] = mapped_column(String)
    text: Mapped[str] = mapped_column(String)


class NoteRepo(OrgRepository[Note]):
    model = Note


@pytest.fixture
async def db(make_settings):  # type: ignore[no-untyped-def]
    database = Database(make_settings())
    async with database.engine.begin() as conn:
        await conn.run_sync(_Base.metadata.create_all)
    yield database
    await database.close()


async def count(db: Database) -> int:
    async with db.sessions() as s:
        return len((await s.execute(select(Note))).scalars().all())


async def test_unit_of_work_commits_once(db: Database) -> None:
    async with db.unit_of_work() as s:
        s.add(Note(id="1", org_id="o", text="a"))
        s.add(Note(id="2", org_id="o", text="b"))
    assert await count(db) == 2


async def test_unit_of_work_rolls_back_whole(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.unit_of_work() as s:
            s.add(Note(id="1", org_id="o", text="a"))
            await s.flush()
            raise RuntimeError("boom")
    assert await count(db) == 0


async def test_after_commit_runs_only_after_a_commit(db: Database) -> None:
    ran: list[str] = []

    async def mark() -> None:
        ran.append("done")

    with pytest.raises(ValueError):
        async with db.unit_of_work() as s:
            after_commit(s, mark)
            raise ValueError
    assert ran == []
    async with db.unit_of_work() as s:
        s.add(Note(id="9", org_id="o", text="z"))
        after_commit(s, mark)
        assert ran == []
    assert ran == ["done"]


def _dbapi_error(
    cls: type, message: str, sqlstate: str | None = None, invalidated: bool = False
) -> Any:
    orig = Exception(message)
    if sqlstate:
        orig.sqlstate = sqlstate  # type: ignore[attr-defined]
    return cls("SELECT 1", {}, orig, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (_dbapi_error(OperationalError, "connection refused", invalidated=True), True),
        (_dbapi_error(OperationalError, "could not serialize", sqlstate="40001"), True),
        (_dbapi_error(OperationalError, "deadlock detected", sqlstate="40P01"), True),
        (_dbapi_error(OperationalError, "database is locked"), True),
        (ConnectionResetError("reset"), True),
        (_dbapi_error(IntegrityError, "duplicate key", sqlstate="23505"), False),
        (_dbapi_error(ProgrammingError, "syntax error", sqlstate="42601"), False),
        (ValueError("bad"), False),
    ],
)
def test_transient_errors_are_classified(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


async def test_run_retries_transient_errors_then_succeeds(db: Database) -> None:
    calls = {"n": 0}

    async def work(s: AsyncSession) -> str:
        calls["n"] += 1
        if calls["n"] < 3:
            raise _dbapi_error(OperationalError, "server closed the connection", invalidated=True)
        s.add(Note(id="r", org_id="o", text="ok"))
        return "ok"

    assert await db.run(work) == "ok"
    assert calls["n"] == 3 and await count(db) == 1


async def test_run_does_not_retry_permanent_errors(db: Database) -> None:
    calls = {"n": 0}

    async def work(s: AsyncSession) -> None:
        calls["n"] += 1
        raise _dbapi_error(IntegrityError, "duplicate", sqlstate="23505")

    with pytest.raises(IntegrityError):
        await db.run(work)
    assert calls["n"] == 1


def test_pool_settings_come_from_configuration(make_settings) -> None:  # type: ignore[no-untyped-def]
    s = make_settings(database_url="postgresql+asyncpg://u@h/db", db_pool_size=7,
                      db_max_overflow=3, db_pool_timeout_s=4.5)  # fmt: skip
    opts = engine_options(s)
    assert (opts["pool_size"], opts["max_overflow"], opts["pool_timeout"]) == (7, 3, 4.5)
    assert opts["pool_pre_ping"] is False  # closed connections: replaced or retried instead


async def test_repository_requires_and_applies_org_scope(db: Database) -> None:
    with pytest.raises(ValueError):
        NoteRepo(None, "")  # type: ignore[arg-type]
    async with db.unit_of_work() as s:
        NoteRepo(s, "org-a").add(Note(id="a1", text="mine"))
        NoteRepo(s, "org-b").add(Note(id="b1", text="theirs"))
    async with db.sessions() as s:
        mine = (await s.execute(NoteRepo(s, "org-a").select())).scalars().all()
        assert [n.id for n in mine] == ["a1"]
        assert await NoteRepo(s, "org-a").get("b1") is None
        with pytest.raises(PermissionError):
            NoteRepo(s, "org-a").add(Note(id="x", org_id="org-b", text="sneak"))
