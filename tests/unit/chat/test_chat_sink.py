"""The run sink queues events without waiting for their commits: order, durability on flush,
and a failed write failing the run's later events (SQLite, memory bus)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import update

from netra.chat import service
from netra.chat.event_writer import EventWriter
from netra.chat.events import NewEvent, OpenItems, RunClosed, StoredEvent, events_after
from netra.chat.models import Run
from netra.chat.repository import RunRepository
from netra.chat.sink import RunSink
from netra.core.context import UserContext
from netra.core.runtime import Runtime
from support.chat_runtime import roomy_limits
from support.runtime import started_runtime

CTX = UserContext(user_id="u1", org_id="o1", tier="enterprise", role="member")


@asynccontextmanager
async def _running(
    make_settings: Callable[..., Any],
) -> AsyncIterator[tuple[Runtime, EventWriter, RunSink]]:
    """A run claimed by worker ``w1`` and its sink."""
    async with started_runtime(make_settings()) as rt:

        async def enqueue(job: dict[str, Any]) -> None:
            return None

        ack = await rt.db.run(
            lambda s: service.submit_user_message(
                s, CTX, text="hi", thread_id=None, frame_id=None, limits=roomy_limits(),
                enqueue=enqueue,
            )
        )  # fmt: skip
        assert await rt.db.run(lambda s: RunRepository(s, "o1").claim_queued(ack.run_id, "w1"))
        writer = EventWriter(rt.db, rt.bus, rt.metrics)
        await writer.start()
        try:
            yield rt, writer, RunSink(writer, rt.db, ack.run_id, "o1", OpenItems(), worker_id="w1")
        finally:
            await writer.stop()


async def _stored(rt: Runtime, run_id: str) -> list[StoredEvent]:
    return await rt.db.run(lambda s: events_after(s, run_id=run_id, org_id="o1", after_seq=0))


def _thinking(i: int) -> dict[str, Any]:
    return {"agent": "supervisor", "thought": f"t{i}", "progress": 0.1}


async def test_emits_queue_without_waiting_and_flush_makes_them_durable_in_order(
    make_settings: Callable[..., Any],
) -> None:
    async with _running(make_settings) as (rt, writer, sink):
        seqs = [await sink.emit("agent_started", {"agent": "supervisor"})]
        seqs += [await sink.emit("agent_thinking", _thinking(i)) for i in range(40)]
        assert seqs == list(range(1, 42))
        assert sink.last_seq == 0  # nothing committed yet: no emit waited for its write
        await sink.flush()
        assert sink.last_seq == 41 and sink.items.started
        events = await _stored(rt, sink.run_id)
        assert [e.seq for e in events] == seqs
        assert [e.payload.get("thought") for e in events[1:]] == [f"t{i}" for i in range(40)]
        assert len(writer.batches) < 41  # committed in groups, not one transaction each


async def test_a_refused_write_fails_the_runs_later_emits_and_nothing_follows_it(
    make_settings: Callable[..., Any],
) -> None:
    async with _running(make_settings) as (rt, _writer, sink):
        await sink.emit("agent_started", {"agent": "supervisor"})
        await sink.flush()
        # Another worker took the run over: this one's queued events are fenced out.
        await rt.db.run(
            lambda s: s.execute(update(Run).where(Run.id == sink.run_id).values(worker_id="w2"))
        )
        for i in range(3):
            await sink.emit("agent_thinking", _thinking(i))
        with pytest.raises(RunClosed):
            await sink.flush()
        with pytest.raises(RunClosed):
            await sink.emit("agent_thinking", _thinking(9))
        with pytest.raises(RunClosed):
            await sink.close("failed", {"code": "x", "message": "y"})
        assert [e.seq for e in await _stored(rt, sink.run_id)] == [1]


async def test_an_event_queued_after_a_failed_one_is_refused_with_its_error(
    make_settings: Callable[..., Any],
) -> None:
    async with _running(make_settings) as (rt, writer, sink):
        failed: asyncio.Future[StoredEvent] = asyncio.get_running_loop().create_future()
        failed.set_exception(ConnectionError("the database went away"))
        event = NewEvent(sink.run_id, "o1", "agent_started", {"agent": "supervisor"}, "w1")
        with pytest.raises(ConnectionError, match="went away"):
            await writer.submit(event, after=failed)
        assert await _stored(rt, sink.run_id) == []  # no event written past the gap


async def test_the_final_event_closes_the_sink_at_once_and_close_adds_nothing(
    make_settings: Callable[..., Any],
) -> None:
    async with _running(make_settings) as (rt, _writer, sink):
        await sink.emit("agent_started", {"agent": "supervisor"})
        await sink.emit("agent_completed", {"agent": "supervisor", "status": "succeeded"})
        with pytest.raises(RunClosed):
            await sink.emit("agent_thinking", _thinking(0))
        with pytest.raises(ValueError, match="invalid status"):
            await sink.emit("agent_completed", {"agent": "supervisor", "status": "meh"})
        await sink.close("succeeded", None)
        events = await _stored(rt, sink.run_id)
        assert [e.seq for e in events] == [1, 2]
        run = await rt.db.run(lambda s: RunRepository(s, "o1").get(sink.run_id))
        assert run is not None and run.status == "succeeded"
