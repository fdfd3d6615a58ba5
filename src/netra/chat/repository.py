"""Tenant-scoped access to threads, messages, runs and processed frames.

Every repository is built with an ``org_id`` (``OrgRepository``); the chat data of a user is
further filtered by ``user_id`` where the caller is a user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    Select,
    Table,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import UpdateBase

from netra.chat.models import RUN_ACTIVE, Message, ProcessedFrame, Run, Thread
from netra.core.db import utcnow
from netra.core.repository import OrgRepository

IDEMPOTENCY_WINDOW = timedelta(hours=24)


class ThreadRepository(OrgRepository[Thread]):
    model = Thread

    async def get_for_user(self, thread_id: str, user_id: str) -> Thread | None:
        stmt = self.select().where(Thread.id == thread_id, Thread.user_id == user_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def list_for_user(self, user_id: str, limit: int = 50, offset: int = 0) -> list[Thread]:
        stmt = (
            self.select()
            .where(Thread.user_id == user_id)
            .order_by(Thread.updated_at.desc(), Thread.id)
            .limit(limit)
            .offset(offset)
        )
        return list((await self.session.execute(stmt)).scalars())


class MessageRepository(OrgRepository[Message]):
    model = Message

    async def list_in_thread(self, thread_id: str, limit: int = 200) -> list[Message]:
        stmt = (
            self.select()
            .where(Message.thread_id == thread_id)
            .order_by(Message.created_at, Message.id)
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())


class RunRepository(OrgRepository[Run]):
    model = Run

    async def get_for_user(self, run_id: str, user_id: str) -> Run | None:
        stmt = self.select().where(Run.id == run_id, Run.user_id == user_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def count_active(self, user_id: str) -> tuple[int, int]:
        """Queued or running runs of the user, and of the whole organisation (one query)."""
        stmt = self.select(func.count().filter(Run.user_id == user_id), func.count()).where(
            Run.status.in_(RUN_ACTIVE)
        )
        mine, org = (await self.session.execute(stmt)).one()
        return int(mine), int(org)

    async def _update(self, run_id: str, *where: Any, **values: Any) -> bool:
        """Update the run when ``where`` holds; whether it did (only one worker can win)."""
        stmt = (
            update(Run).where(Run.id == run_id, Run.org_id == self.org_id, *where).values(**values)
        )
        return bool((await self.session.execute(stmt)).rowcount)  # type: ignore[attr-defined]

    async def claim_queued(self, run_id: str, worker_id: str) -> bool:
        """Take a queued run for execution; only one worker can win."""
        now = utcnow()
        return await self._update(
            run_id,
            Run.status == "queued",
            status="running",
            worker_id=worker_id,
            heartbeat_at=now,
            started_at=func.coalesce(Run.started_at, now),  # a released run keeps its
            attempts=Run.attempts + 1,  # deadline; every execution counts
        )

    async def claim_stale(self, run_id: str, worker_id: str, stale_before: datetime) -> bool:
        """Take over a running run whose worker stopped heart-beating."""
        return await self._update(
            run_id,
            Run.status == "running",
            Run.heartbeat_at < stale_before,
            worker_id=worker_id,
            heartbeat_at=utcnow(),
            attempts=Run.attempts + 1,
        )

    async def release(self, run_id: str, worker_id: str) -> bool:
        """Hand a running run back to the queue (its worker is stopping): queued again, no
        holder (nothing more from this worker is stored), the execution not counted."""
        return await self._update(
            run_id,
            *_held_by(worker_id),
            status="queued",
            worker_id=None,
            heartbeat_at=None,
            attempts=Run.attempts - 1,
        )

    async def heartbeat(self, run_id: str, worker_id: str) -> bool:
        """Refresh the claim; False when the run ended or another worker took it over."""
        return await self._update(run_id, *_held_by(worker_id), heartbeat_at=utcnow())

    async def cancel_requested(self, run_id: str) -> bool:
        stmt = self.select(Run.cancel_requested).where(Run.id == run_id)
        return bool((await self.session.execute(stmt)).scalar_one_or_none())


def _held_by(worker_id: str) -> tuple[Any, ...]:
    """The run is still executing under this worker's claim (the fence of its writes)."""
    return (Run.worker_id == worker_id, Run.status == "running")


class ProcessedFrameRepository(OrgRepository[ProcessedFrame]):
    model = ProcessedFrame

    async def recent(self, user_id: str, frame_id: str) -> ProcessedFrame | None:
        found = await self.find(user_id, frame_id)
        return found if found is not None and is_recent(found) else None

    async def find(self, user_id: str, frame_id: str) -> ProcessedFrame | None:
        """The record of this id, however old (an expired one is deleted by its reuser)."""
        stmt = self.select().where(
            ProcessedFrame.user_id == user_id, ProcessedFrame.frame_id == frame_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()


def is_recent(frame: ProcessedFrame | SeenFrame) -> bool:
    """Whether the id is still answered with its first ack (``IDEMPOTENCY_WINDOW``)."""
    return frame.created_at > utcnow() - IDEMPOTENCY_WINDOW


@dataclass(frozen=True, slots=True)
class SeenFrame:
    thread_id: str
    run_id: str
    message_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Admission:
    """What a new user message is checked against, read in one statement."""

    mine: int  # the user's queued or running runs
    org: int  # the organisation's
    seen: SeenFrame | None  # the record of the client's message id, however old
    thread_found: bool  # the named thread is the user's (True when none is named)


# The statements of a user message, built once per shape with bound parameters (``p_*``, never
# a column's name): building and cache-keying them per call was a third of the ack's CPU.
_p = bindparam
THREADS, MESSAGES, RUNS, FRAMES = (
    cast(Table, m.__table__) for m in (Thread, Message, Run, ProcessedFrame)
)


@cache
def _admission_stmt(by_frame: bool, by_thread: bool) -> Select[Any]:
    counts = (
        select(
            func.count().filter(RUNS.c.user_id == _p("p_user")).label("mine"),
            func.count().label("org"),
        )
        .where(RUNS.c.org_id == _p("p_org"), RUNS.c.status.in_(RUN_ACTIVE))
        .subquery()
    )
    found = (
        exists().where(
            THREADS.c.id == _p("p_thread"),
            THREADS.c.org_id == _p("p_org"),
            THREADS.c.user_id == _p("p_user"),
        )
        if by_thread
        else literal(True)
    )
    if not by_frame:
        return select(counts.c.mine, counts.c.org, found)
    f = FRAMES.c
    on = and_(f.org_id == _p("p_org"), f.user_id == _p("p_user"), f.frame_id == _p("p_frame"))
    return select(
        counts.c.mine, counts.c.org, found, f.thread_id, f.run_id, f.message_id, f.created_at
    ).select_from(counts.outerjoin(FRAMES, on))


async def admission(
    session: AsyncSession, org_id: str, user_id: str, frame_id: str | None, thread_id: str | None
) -> Admission:
    """The active-run counts, the frame id's record and the thread's existence in one round
    trip (each was its own statement)."""
    params = {"p_org": org_id, "p_user": user_id, "p_frame": frame_id, "p_thread": thread_id}
    stmt = _admission_stmt(bool(frame_id), bool(thread_id))
    row = (await session.execute(stmt, params)).one()
    seen = SeenFrame(*row[3:]) if len(row) > 3 and row[3] is not None else None
    return Admission(int(row[0]), int(row[1]), seen, bool(row[2]))


@cache
def _message_writes(new_thread: bool, with_frame: bool) -> tuple[UpdateBase, ...]:
    """The rows of a user message: its thread (new, or its ``updated_at``), the message, the
    run, and the client id's record, in foreign-key order."""
    owned: dict[str, Any] = {
        "org_id": _p("p_org"),
        "user_id": _p("p_user"),
        "created_at": _p("p_now"),
    }
    thread = (
        insert(THREADS).values(
            id=_p("p_thread"), title=_p("p_title"), updated_at=_p("p_now"), **owned
        )
        if new_thread
        else update(THREADS)
        .where(THREADS.c.id == _p("p_thread"), THREADS.c.org_id == _p("p_org"))
        .values(updated_at=_p("p_now"))
    )
    ids: dict[str, Any] = {"thread_id": _p("p_thread"), "run_id": _p("p_run")}
    writes: list[UpdateBase] = [
        thread,
        insert(MESSAGES).values(
            id=_p("p_message"), role="user", text=_p("p_text"), meta=_p("p_meta"), **ids, **owned
        ),
        insert(RUNS).values(
            id=_p("p_run"), thread_id=_p("p_thread"), message_id=_p("p_message"),
            tier=_p("p_tier"), role=_p("p_role"), request_id=_p("p_request"), status="queued",
            last_seq=0, cancel_requested=False, attempts=0, **owned,
        ),
    ]  # fmt: skip
    if with_frame:
        writes.append(
            insert(FRAMES).values(
                frame_id=_p("p_frame"), message_id=_p("p_message"), **ids, **owned
            )
        )
    return tuple(writes)


@cache
def _together(new_thread: bool, with_frame: bool) -> UpdateBase:
    """PostgreSQL: the writes as one statement, the others data-modifying CTEs of the last
    (foreign keys are checked at the statement's end)."""
    *first, last = _message_writes(new_thread, with_frame)
    return last.add_cte(*(w.cte(f"w{i}") for i, w in enumerate(first)))


async def insert_message_rows(
    session: AsyncSession, *, new_thread: bool, with_frame: bool, params: dict[str, Any]
) -> None:
    """Write a user message's rows (:func:`_message_writes`): one round trip on PostgreSQL,
    one statement each elsewhere (SQLite has no data-modifying CTEs)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_together(new_thread, with_frame), params)
        return
    for stmt in _message_writes(new_thread, with_frame):
        await session.execute(stmt, params)


async def stale_running_runs(
    session: AsyncSession, stale_before: datetime, limit: int = 50
) -> list[tuple[str, str]]:
    """(run id, org id) of running runs whose worker went silent: a maintenance sweep across
    organisations (each is then handled through its own org-scoped repository)."""
    stmt = (
        select(Run.id, Run.org_id)
        .where(Run.status == "running", Run.heartbeat_at < stale_before)
        .limit(limit)
    )
    return [(str(r[0]), str(r[1])) for r in (await session.execute(stmt)).all()]


async def queued_runs(
    session: AsyncSession, created_before: datetime, limit: int = 500
) -> list[tuple[str, str]]:
    """(run id, org id) of runs queued since before ``created_before``: enqueued again when
    their job was lost (an in-process queue dies with its process; an enqueue failed)."""
    stmt = (
        select(Run.id, Run.org_id)
        .where(Run.status == "queued", Run.created_at < created_before)
        .limit(limit)
    )
    return [(str(r[0]), str(r[1])) for r in (await session.execute(stmt)).all()]
