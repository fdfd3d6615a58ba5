"""Chat HTTP routes: threads, their messages, and a run's stored events (``resume`` over HTTP)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from netra.auth.deps import require
from netra.chat import service
from netra.chat.events import rfc3339
from netra.chat.models import Message, Thread
from netra.chat.schemas import MessageList, RunEvents, ThreadIn, ThreadList, ThreadOut
from netra.core.context import UserContext
from netra.core.deps import SessionDep
from netra.core.inputs import MAX_BIGINT, PathId
from netra.core.openapi import responses

router = APIRouter(prefix="/api/v1", tags=["chat"])

Reader = Annotated[UserContext, require("chat:read")]
Chatter = Annotated[UserContext, require("chat:use")]


def _ts(value: datetime) -> str:
    return rfc3339(value)


def _thread(t: Thread) -> dict[str, Any]:
    return {
        "id": t.id,
        "title": t.title,
        "created_at": _ts(t.created_at),
        "updated_at": _ts(t.updated_at),
    }


def _message(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "thread_id": m.thread_id,
        "role": m.role,
        "text": m.text,
        "run_id": m.run_id,
        "meta": m.meta,
        "created_at": _ts(m.created_at),
    }


@router.get("/threads", response_model=ThreadList)
async def list_threads(
    user: Reader,
    session: SessionDep,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=MAX_BIGINT),
) -> dict[str, Any]:
    threads = await service.list_threads(session, user, limit, offset)
    return {"threads": [_thread(t) for t in threads]}


@router.post("/threads", status_code=201, response_model=ThreadOut)
async def create_thread(body: ThreadIn, user: Chatter, session: SessionDep) -> dict[str, Any]:
    return _thread(await service.create_thread(session, user, body.title))


@router.get("/threads/{thread_id}/messages", response_model=MessageList, responses=responses(404))
async def thread_messages(thread_id: PathId, user: Reader, session: SessionDep) -> dict[str, Any]:
    messages = await service.thread_messages(session, user, thread_id)
    return {"thread_id": thread_id, "messages": [_message(m) for m in messages]}


@router.get("/runs/{run_id}/events", response_model=RunEvents, responses=responses(404))
async def run_events(
    run_id: PathId,
    user: Reader,
    session: SessionDep,
    after_seq: int = Query(0, ge=0, le=MAX_BIGINT),
    limit: int = Query(1000, ge=1, le=1000),
) -> dict[str, Any]:
    run, events = await service.run_events(session, user, run_id, after_seq, limit)
    return {
        "run_id": run.id,
        "thread_id": run.thread_id,
        "status": run.status,
        "last_seq": run.last_seq,
        "events": [e.frame() for e in events],
    }
