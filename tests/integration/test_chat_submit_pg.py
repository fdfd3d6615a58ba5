"""A user message's rows on PostgreSQL, where they are written in one statement (data-modifying
CTEs): the same contract as on SQLite (tests/unit/chat/test_chat_events.py), on the engine the
replicas run: idempotency on the client's id for 24 h, a named thread, concurrent duplicates,
and the run limits counted from the database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from netra.chat import service
from netra.chat.models import Message, ProcessedFrame, Run, Thread
from netra.core.context import UserContext
from netra.core.db import utcnow
from netra.core.errors import LimitReached, NotFound
from netra.core.runtime import Runtime
from netra.tiers import limits_for
from support.chat_runtime import roomy_limits
from support.runtime import started_runtime


def _ctx(user: str, org: str) -> UserContext:
    return UserContext(user_id=user, org_id=org, tier="free", role="member")


async def _send(
    runtime: Runtime, ctx: UserContext, jobs: list[dict[str, Any]], *, frame_id: str | None,
    thread_id: str | None = None, limits: Any = None,
) -> service.Ack:  # fmt: skip
    async def enqueue(job: dict[str, Any]) -> None:
        jobs.append(job)

    return await runtime.db.run(
        lambda s: service.submit_user_message(
            s, ctx, text="hello there", thread_id=thread_id, frame_id=frame_id,
            limits=limits or roomy_limits(), enqueue=enqueue,
        )
    )  # fmt: skip


async def test_rows_duplicates_expiry_and_named_threads(pg_settings: Any) -> None:
    org = uuid.uuid4().hex
    alice, bob = _ctx("alice", org), _ctx("bob", org)
    jobs: list[dict[str, Any]] = []
    async with started_runtime(pg_settings()) as runtime:
        first = await _send(runtime, alice, jobs, frame_id="f-1")
        again = await _send(runtime, alice, jobs, frame_id="f-1")
        assert again.duplicate and again.payload() == first.payload()
        assert jobs == [{"run_id": first.run_id, "org_id": org}]

        async def rows(s: Any) -> tuple[Any, ...]:
            run = (await s.execute(select(Run).where(Run.id == first.run_id))).scalar_one()
            msg = (
                await s.execute(select(Message).where(Message.id == first.message_id))
            ).scalar_one()
            thread = (
                await s.execute(select(Thread).where(Thread.id == first.thread_id))
            ).scalar_one()
            return run, msg, thread

        run, msg, thread = await runtime.db.run(rows)
        assert (run.status, run.user_id, run.org_id, run.thread_id, run.message_id) == (
            "queued", "alice", org, first.thread_id, first.message_id
        )  # fmt: skip
        assert (run.last_seq, run.attempts, run.cancel_requested, run.tier) == (0, 0, False, "free")
        assert (msg.role, msg.text, msg.run_id, msg.meta) == ("user", "hello there", run.id, {})
        assert (thread.title, thread.user_id) == ("hello there", "alice")

        # Another user cannot write into alice's thread; it is not found, nothing is stored.
        with pytest.raises(NotFound):
            await _send(runtime, bob, jobs, frame_id="f-2", thread_id=first.thread_id)

        # Past 24 h the id starts a new run, here in the named thread (its updated_at moves).
        async def age(s: Any) -> None:
            await s.execute(
                update(ProcessedFrame)
                .where(ProcessedFrame.org_id == org)
                .values(created_at=utcnow() - timedelta(hours=25))
            )

        await runtime.db.run(age)
        later = await _send(runtime, alice, jobs, frame_id="f-1", thread_id=first.thread_id)
        assert not later.duplicate and later.run_id != first.run_id
        assert later.thread_id == first.thread_id and len(jobs) == 2
        _, _, moved = await runtime.db.run(rows)
        assert moved.updated_at > thread.updated_at

        # The same new id twice at once: one run; the loser fails on the frames' primary key.
        both = await asyncio.gather(
            _send(runtime, alice, jobs, frame_id="f-3"),
            _send(runtime, alice, jobs, frame_id="f-3"),
            return_exceptions=True,
        )
        won = [b for b in both if isinstance(b, service.Ack)]
        lost = [b for b in both if not isinstance(b, service.Ack)]
        assert len(won) >= 1 and all(isinstance(e, IntegrityError) for e in lost)
        assert len({w.run_id for w in won}) == 1
        runs = await runtime.db.run(
            lambda s: s.scalar(select(func.count()).select_from(Run).where(Run.org_id == org))
        )
        assert runs == 3


async def test_run_limits_count_the_database(pg_settings: Any) -> None:
    org = uuid.uuid4().hex
    jobs: list[dict[str, Any]] = []
    async with started_runtime(pg_settings(runs_free=1, runs_org_free=2)) as runtime:
        limits = limits_for(runtime.settings, "free")
        await _send(runtime, _ctx("alice", org), jobs, frame_id=None, limits=limits)
        with pytest.raises(LimitReached) as mine:
            await _send(runtime, _ctx("alice", org), jobs, frame_id="x", limits=limits)
        assert mine.value.details == {"scope": "user", "limit": 1}
        await _send(runtime, _ctx("bob", org), jobs, frame_id=None, limits=limits)
        with pytest.raises(LimitReached) as theirs:
            await _send(runtime, _ctx("carol", org), jobs, frame_id=None, limits=limits)
        assert theirs.value.details == {"scope": "org", "limit": 2}
        assert len(jobs) == 2
