"""Chat services: threads, messages, starting and cancelling runs, reading run events.

Plain async functions taking the session and the caller's immutable context. They ``flush``;
the caller's unit of work commits; the run is enqueued only after that commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from netra.chat.events import StoredEvent, append_event, events_after, replay_page
from netra.chat.models import RUN_FINAL, Message, Run, Thread
from netra.chat.repository import (
    FRAMES,
    MessageRepository,
    ProcessedFrameRepository,
    RunRepository,
    ThreadRepository,
    admission,
    insert_message_rows,
    is_recent,
)
from netra.core.context import UserContext
from netra.core.db import after_commit, new_id, utcnow
from netra.core.errors import NotFound, ValidationFailed
from netra.tiers import Limit, TierLimits, check

Enqueue = Callable[[dict[str, Any]], Awaitable[object]]
Publish = Callable[[list[StoredEvent]], Awaitable[None]]

MAX_TEXT = 32_000


@dataclass(frozen=True, slots=True)
class Ack:
    thread_id: str
    run_id: str
    message_id: str
    duplicate: bool = False

    def payload(self) -> dict[str, str]:
        return {"thread_id": self.thread_id, "run_id": self.run_id, "message_id": self.message_id}


def _title(text: str) -> str:
    line = " ".join(text.split())
    return (line[:77] + "...") if len(line) > 80 else (line or "New thread")


async def create_thread(session: AsyncSession, ctx: UserContext, title: str | None) -> Thread:
    thread = Thread(user_id=ctx.user_id, title=_title(title or "New thread"))
    ThreadRepository(session, ctx.org_id).add(thread)
    await session.flush()
    return thread


async def list_threads(
    session: AsyncSession, ctx: UserContext, limit: int = 50, offset: int = 0
) -> list[Thread]:
    return await ThreadRepository(session, ctx.org_id).list_for_user(ctx.user_id, limit, offset)


async def thread_messages(session: AsyncSession, ctx: UserContext, thread_id: str) -> list[Message]:
    if await ThreadRepository(session, ctx.org_id).get_for_user(thread_id, ctx.user_id) is None:
        raise NotFound("thread not found")
    return await MessageRepository(session, ctx.org_id).list_in_thread(thread_id)


async def previous_ack(session: AsyncSession, ctx: UserContext, frame_id: str) -> Ack | None:
    """The ack already given to this client message id within 24 h, if any."""
    seen = await ProcessedFrameRepository(session, ctx.org_id).recent(ctx.user_id, frame_id)
    if seen is None:
        return None
    return Ack(seen.thread_id, seen.run_id, seen.message_id, duplicate=True)


async def submit_user_message(
    session: AsyncSession,
    ctx: UserContext,
    *,
    text: str,
    thread_id: str | None,
    frame_id: str | None,
    limits: TierLimits,
    enqueue: Enqueue,
) -> Ack:
    """Store the user's message, create its run and enqueue it after the commit.

    Idempotent on ``frame_id``: the same id from the same user within 24 h returns the first
    ack and starts nothing (a concurrent duplicate fails the commit on the frames' primary key;
    the caller then reads the first ack with :func:`previous_ack`).

    Two statements on PostgreSQL besides BEGIN and COMMIT: one read of everything checked
    (:func:`admission`), one write of every row (prebuilt Core statements; the ORM's unit of
    work and per-call statement building were most of the ack's CPU).
    """
    state = await admission(session, ctx.org_id, ctx.user_id, frame_id, thread_id)
    seen = state.seen
    if seen is not None and is_recent(seen):
        return Ack(seen.thread_id, seen.run_id, seen.message_id, duplicate=True)
    if not text or not text.strip():
        raise ValidationFailed("payload.text must not be empty", details={"field": "text"})
    if not state.thread_found:
        raise NotFound("thread not found")
    # The tier's concurrency, per user and per organisation (error code run_limit).
    check(limits, Limit.RUNS_PER_USER, state.mine)
    check(limits, Limit.RUNS_PER_ORG, state.org)
    if seen is not None:  # expired: the id may be used again
        await session.execute(
            delete(FRAMES).where(
                FRAMES.c.org_id == ctx.org_id,
                FRAMES.c.user_id == ctx.user_id,
                FRAMES.c.frame_id == frame_id,
            )
        )
    thread, message_id, run_id = thread_id or new_id(), new_id(), new_id()
    params = {
        "p_org": ctx.org_id, "p_user": ctx.user_id, "p_now": utcnow(),
        "p_thread": thread, "p_title": _title(text), "p_message": message_id,
        "p_text": text, "p_meta": {}, "p_run": run_id, "p_tier": ctx.tier, "p_role": ctx.role,
        "p_request": ctx.request_id, "p_frame": frame_id,
    }  # fmt: skip
    await insert_message_rows(
        session, new_thread=not thread_id, with_frame=bool(frame_id), params=params
    )
    job = {"run_id": run_id, "org_id": ctx.org_id}

    async def _enqueue() -> None:
        await enqueue(job)

    after_commit(session, _enqueue)
    return Ack(thread, run_id, message_id)


async def cancel_run(session: AsyncSession, ctx: UserContext, run_id: str, publish: Publish) -> Run:
    """Ask for the run to end ``cancelled``. A run no worker has started yet is ended here
    (its supervisor's started and completed events); a running one is stopped by its worker."""
    run = await RunRepository(session, ctx.org_id).get_for_user(run_id, ctx.user_id)
    if run is None:
        raise NotFound("run not found")
    if run.status in RUN_FINAL:
        return run
    run.cancel_requested = True
    await session.flush()
    if run.status == "queued":
        # Claim it from the queue with the same conditional update a worker uses.
        # A run released by a stopping worker has events already: the worker that takes it
        # next closes it from where it stands (it sees cancel_requested).
        fresh = run.last_seq == 0
        if fresh and await RunRepository(session, ctx.org_id).claim_queued(run.id, "api:cancel"):
            stored = [
                await append_event(
                    session,
                    run_id=run.id,
                    org_id=ctx.org_id,
                    type_="agent_started",
                    payload={"agent": "supervisor"},
                ),
                await append_event(
                    session,
                    run_id=run.id,
                    org_id=ctx.org_id,
                    type_="agent_completed",
                    payload={"agent": "supervisor", "status": "cancelled"},
                ),
            ]

            async def _publish() -> None:
                await publish(stored)

            after_commit(session, _publish)
    return run


async def run_for_user(session: AsyncSession, ctx: UserContext, run_id: str) -> Run:
    run = await RunRepository(session, ctx.org_id).get_for_user(run_id, ctx.user_id)
    if run is None:
        raise NotFound("run not found")  # never "forbidden": existence is not leaked
    return run


async def resume_page(
    session: AsyncSession, ctx: UserContext, run_id: str, after_seq: int, limit: int
) -> list[StoredEvent]:
    """The first page of a ``resume`` of the user's run (``NotFound``: not the user's run)."""
    page = await replay_page(session, run_id=run_id, org_id=ctx.org_id, user_id=ctx.user_id,
                             after_seq=after_seq, limit=limit)  # fmt: skip
    if page is None:
        raise NotFound("run not found")  # never "forbidden": existence is not leaked
    return page


async def run_events(
    session: AsyncSession, ctx: UserContext, run_id: str, after_seq: int, limit: int = 1000
) -> tuple[Run, list[StoredEvent]]:
    run = await run_for_user(session, ctx, run_id)
    events = await events_after(
        session, run_id=run_id, org_id=ctx.org_id, after_seq=after_seq, limit=limit
    )
    return run, events


async def save_assistant_message(
    session: AsyncSession, *, org_id: str, user_id: str, thread_id: str, run_id: str,
    text: str, meta: dict[str, Any],
) -> str:  # fmt: skip
    """The run's answer, stored once: a run executed again (its worker died after storing it)
    gets the message its first execution stored."""
    messages = MessageRepository(session, org_id)
    stmt = messages.select(Message.id).where(Message.run_id == run_id, Message.role == "assistant")
    existing = (await session.execute(stmt)).scalars().first()
    if existing is not None:
        return str(existing)
    message = messages.add(
        Message(
            thread_id=thread_id,
            user_id=user_id,
            role="assistant",
            text=text,
            run_id=run_id,
            meta=meta,
        )
    )
    thread = await ThreadRepository(session, org_id).get(thread_id)
    if thread is not None:
        thread.updated_at = utcnow()
    await session.flush()
    return message.id
