"""U5: run events get seq 1, 2, 3... with no gap or repeat, nothing follows the final event,
and a run that fails mid-way is closed with the missing events in order."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from netra.chat import service
from netra.chat.event_writer import EventWriter
from netra.chat.events import OpenItems, RunClosed, append_event, events_after, user_channel
from netra.chat.models import ProcessedFrame
from netra.core.context import UserContext
from netra.core.db import utcnow
from netra.core.errors import NotFound
from netra.core.runtime import Runtime
from support.chat_runtime import roomy_limits


def _ctx(user: str = "u1", org: str = "o1") -> UserContext:
    return UserContext(user_id=user, org_id=org, tier="enterprise", role="member")


async def _new_run(runtime: Runtime, ctx: UserContext) -> service.Ack:
    async def noop(job: dict[str, Any]) -> None:
        return None

    return await runtime.db.run(
        lambda s: service.submit_user_message(
            s, ctx, text="hello", thread_id=None, frame_id=None, limits=roomy_limits(), enqueue=noop
        )
    )


async def test_concurrent_writers_get_consecutive_seqs(runtime: Runtime) -> None:
    ack = await _new_run(runtime, _ctx())
    writer = EventWriter(runtime.db, runtime.bus, runtime.metrics, batch_max=50)
    await writer.start()
    try:
        stored = await asyncio.gather(
            *(
                writer.append(ack.run_id, "o1", "agent_thinking", {"agent": "a", "thought": str(i)})
                for i in range(40)
            )
        )
    finally:
        await writer.stop()
    assert sorted(e.seq for e in stored) == list(range(1, 41))
    # Under load the writer grouped events into fewer transactions than events.
    assert len(writer.batches) < 40 and sum(writer.batches) == 40
    read = await runtime.db.run(
        lambda s: events_after(s, run_id=ack.run_id, org_id="o1", after_seq=10, up_to=12)
    )
    assert [e.seq for e in read] == [11, 12]


async def test_events_are_published_on_the_users_channel_after_storage(runtime: Runtime) -> None:
    ack = await _new_run(runtime, _ctx("alice"))
    writer = EventWriter(runtime.db, runtime.bus, runtime.metrics)
    await writer.start()
    try:
        async with (
            runtime.bus.subscribe(user_channel("alice")) as mine,
            runtime.bus.subscribe(user_channel("bob")) as other,
        ):
            event = await writer.append(ack.run_id, "o1", "agent_started", {"agent": "supervisor"})
            assert await asyncio.wait_for(mine.get(), 2) == event.wire()
            assert other.pending() == 0
    finally:
        await writer.stop()


async def test_nothing_is_stored_after_the_final_event_or_in_another_org(
    runtime: Runtime,
) -> None:
    ack = await _new_run(runtime, _ctx())

    async def write(type_: str, payload: dict[str, Any], org: str = "o1") -> int:
        async def work(s: Any) -> int:
            e = await append_event(s, run_id=ack.run_id, org_id=org, type_=type_, payload=payload)
            return e.seq

        return await runtime.db.run(work)

    with pytest.raises(RunClosed):
        await write("agent_started", {"agent": "supervisor"}, org="o2")
    assert await write("agent_started", {"agent": "supervisor"}) == 1
    assert await write("agent_completed", {"agent": "supervisor", "status": "succeeded"}) == 2
    with pytest.raises(RunClosed):
        await write("agent_thinking", {"agent": "supervisor", "thought": "late"})
    run = await runtime.db.run(lambda s: service.run_for_user(s, _ctx(), ack.run_id))
    assert run.status == "succeeded" and run.last_seq == 2 and run.finished_at is not None


def test_closing_events_complete_open_tools_then_agents_innermost_first() -> None:
    items = OpenItems()
    for type_, payload in [
        ("agent_started", {"agent": "supervisor"}),
        ("agent_started", {"agent": "data"}),
        ("tool_executing", {"agent": "data", "tool": "query", "tool_call_id": "t1"}),
        ("tool_executing", {"agent": "data", "tool": "sum", "tool_call_id": "t2"}),
        ("tool_completed", {"agent": "data", "tool": "sum", "tool_call_id": "t2"}),
        ("agent_started", {"agent": "optimizer"}),
    ]:
        items.track(type_, payload)
    error = {"code": "worker_lost", "message": "gone"}
    closing = items.closing_events("failed", error)
    assert [(t, p["agent"]) for t, p in closing] == [
        ("tool_completed", "data"),
        ("agent_completed", "optimizer"),
        ("agent_completed", "data"),
        ("agent_completed", "supervisor"),
    ]
    assert closing[0][1]["tool_call_id"] == "t1" and closing[0][1]["status"] == "error"
    assert all(p.get("error") == error for t, p in closing if t == "agent_completed")


def test_closing_a_run_that_emitted_nothing_starts_the_supervisor_first() -> None:
    closing = OpenItems().closing_events("cancelled", None)
    assert closing == [
        ("agent_started", {"agent": "supervisor"}),
        ("agent_completed", {"agent": "supervisor", "status": "cancelled"}),
    ]
    done = OpenItems()
    done.track("agent_started", {"agent": "supervisor"})
    done.track("agent_completed", {"agent": "supervisor", "status": "succeeded"})
    assert done.closing_events("failed", None) == []


def test_succeeded_closing_carries_the_result() -> None:
    items = OpenItems()
    items.track("agent_started", {"agent": "supervisor"})
    result = {"message_id": "m", "text": "answer"}
    assert items.closing_events("succeeded", None, result)[-1][1]["result"] == result


def test_user_context_is_immutable_and_derived_per_run() -> None:
    ctx = _ctx()
    run_ctx = ctx.derive(run_id="r1")
    assert ctx.run_id is None and run_ctx.run_id == "r1" and run_ctx.user_id == ctx.user_id
    with pytest.raises(AttributeError):
        ctx.user_id = "someone else"  # type: ignore[misc]


async def test_a_message_id_is_idempotent_per_user_for_24_hours(runtime: Runtime) -> None:
    jobs: list[dict[str, Any]] = []

    async def enqueue(job: dict[str, Any]) -> None:
        jobs.append(job)

    async def send(ctx: UserContext, thread_id: str | None = None) -> service.Ack:
        return await runtime.db.run(
            lambda s: service.submit_user_message(
                s,
                ctx,
                text="hi",
                thread_id=thread_id,
                frame_id="f-1",
                limits=roomy_limits(),
                enqueue=enqueue,
            )
        )

    first = await send(_ctx())
    again = await send(_ctx())
    assert again.duplicate and again.payload() == first.payload() and len(jobs) == 1
    other_user = await send(_ctx("u2"))
    assert other_user.run_id != first.run_id and len(jobs) == 2

    async def age(s: Any) -> None:
        await s.execute(
            update(ProcessedFrame)
            .where(ProcessedFrame.user_id == "u1")
            .values(created_at=utcnow() - timedelta(hours=25))
        )

    await runtime.db.run(age)
    later = await send(_ctx(), first.thread_id)
    assert not later.duplicate and later.run_id != first.run_id
    assert later.thread_id == first.thread_id and len(jobs) == 3


async def test_a_resume_page_is_the_users_run_after_the_seq_in_one_read(runtime: Runtime) -> None:
    ctx = _ctx()
    ack = await _new_run(runtime, ctx)
    for i in range(5):
        await runtime.db.run(
            lambda s, i=i: append_event(
                s, run_id=ack.run_id, org_id="o1", type_="agent_thinking",
                payload={"agent": "a", "thought": str(i)},
            )
        )  # fmt: skip

    async def page(c: UserContext, after: int, limit: int = 500) -> list[int]:
        events = await runtime.db.run(lambda s: service.resume_page(s, c, ack.run_id, after, limit))
        assert all(e.thread_id == ack.thread_id and e.user_id == "u1" for e in events)
        return [e.seq for e in events]

    assert await page(ctx, 2) == [3, 4, 5]
    assert await page(ctx, 0, limit=2) == [1, 2]
    assert await page(ctx, 5) == []  # the run is the user's, nothing after seq 5
    for stranger in (_ctx(user="u2"), _ctx(org="o2")):  # not theirs: as if it did not exist
        with pytest.raises(NotFound):
            await page(stranger, 0)
