"""Tenant-scoped access to threads, messages, runs and processed frames.

Every repository is built with an ``org_id`` (``OrgRepository``); the chat data of a user is
further filtered by ``user_id`` where the caller is a user.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

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


def is_recent(frame: ProcessedFrame) -> bool:
    """Whether the id is still answered with its first ack (``IDEMPOTENCY_WINDOW``)."""
    return frame.created_at > utcnow() - IDEMPOTENCY_WINDOW


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
