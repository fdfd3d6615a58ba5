"""U5 / U6 / I8 logic: a run executes once, and ends whatever its pipeline or worker does,
with the ordering guarantees kept (memory queue and bus, SQLite)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from netra.agents.contract import (
    PIPELINE,
    RECORD_LOADER,
    AgentDeps,
    EventSink,
    RunRequest,
    RunResult,
)
from netra.chat import service
from netra.chat.event_writer import EventWriter
from netra.chat.events import StoredEvent, append_event, events_after
from netra.chat.models import Message, Run
from netra.chat.repository import MessageRepository, RunRepository
from netra.chat.worker import RunWorker
from netra.core.context import UserContext
from netra.core.db import utcnow
from netra.core.errors import ConfigurationError
from netra.core.queue import Job
from netra.core.runtime import Runtime
from support.chat_runtime import roomy_limits
from support.runtime import started_runtime

CTX = UserContext(user_id="u1", org_id="o1", tier="enterprise", role="member")


@asynccontextmanager
async def _worker(
    make_settings: Callable[..., Any], pipeline: Any = None, **overrides: Any
) -> AsyncIterator[tuple[Runtime, RunWorker]]:
    # Without a pipeline of its own, a test runs the placeholder (a test double: test env only).
    defaults = {"placeholder_step_delay_s": 0, "placeholder_pipeline": pipeline is None}
    settings = make_settings(**{**defaults, **overrides})
    async with started_runtime(settings) as rt:
        if pipeline is not None:
            rt.services.provide(PIPELINE, pipeline)
        writer = EventWriter(rt.db, rt.bus, rt.metrics)
        await writer.start()
        try:
            yield rt, RunWorker(rt, writer, name="w-test")
        finally:
            await writer.stop()


async def _submit(rt: Runtime, ctx: UserContext = CTX) -> tuple[service.Ack, Job]:
    jobs: list[dict[str, Any]] = []

    async def enqueue(job: dict[str, Any]) -> None:
        jobs.append(job)

    ack = await rt.db.run(
        lambda s: service.submit_user_message(
            s,
            ctx,
            text="why so expensive?",
            thread_id=None,
            frame_id=None,
            limits=roomy_limits(),
            enqueue=enqueue,
        )
    )
    assert jobs == [{"run_id": ack.run_id, "org_id": ctx.org_id}]  # enqueued after the commit
    return ack, Job("j1", jobs[0])


async def _events(rt: Runtime, run_id: str) -> list[StoredEvent]:
    return await rt.db.run(lambda s: events_after(s, run_id=run_id, org_id="o1", after_seq=0))


async def _run_row(rt: Runtime, run_id: str) -> Run:
    run = await rt.db.run(lambda s: RunRepository(s, "o1").get(run_id))
    assert run is not None
    return run


def _shape(events: list[StoredEvent]) -> list[tuple[str, str]]:
    return [(e.type, str(e.payload.get("agent"))) for e in events]


async def test_a_job_delivered_twice_runs_once(make_settings: Any) -> None:
    async with _worker(make_settings) as (rt, worker):
        ack, job = await _submit(rt)
        await asyncio.gather(worker.handle(job), worker.handle(Job("j2", job.data)))
        events = await _events(rt, ack.run_id)
        assert [e.seq for e in events] == [1, 2, 3, 4, 5]
        assert events[-1].payload["status"] == "succeeded"
        messages: list[Message] = await rt.db.run(
            lambda s: MessageRepository(s, "o1").list_in_thread(ack.thread_id)
        )
        assert [m.role for m in messages] == ["user", "assistant"]
        assert events[-1].payload["result"]["message_id"] == messages[1].id
        assert (await _run_row(rt, ack.run_id)).status == "succeeded"


async def test_a_failing_pipeline_ends_failed_with_its_open_items_closed(
    make_settings: Any,
) -> None:
    async def broken(request: RunRequest, sink: EventSink, deps: AgentDeps) -> RunResult:
        assert request.context.run_id == request.run_id and request.context.user_id == "u1"
        await sink.emit("agent_started", {"agent": "supervisor"})
        await sink.emit("agent_started", {"agent": "data"})
        await sink.emit(
            "tool_executing", {"agent": "data", "tool": "q", "tool_call_id": "t1", "args": {}}
        )
        raise RuntimeError("the database of usage vanished")

    async with _worker(make_settings, broken) as (rt, worker):
        ack, job = await _submit(rt)
        await worker.handle(job)
        events = await _events(rt, ack.run_id)
        assert _shape(events) == [
            ("agent_started", "supervisor"),
            ("agent_started", "data"),
            ("tool_executing", "data"),
            ("tool_completed", "data"),
            ("agent_completed", "data"),
            ("agent_completed", "supervisor"),
        ]
        final = events[-1].payload
        assert final["status"] == "failed" and final["error"]["code"] == "pipeline_error"
        assert "vanished" in final["error"]["message"]
        assert (await _run_row(rt, ack.run_id)).status == "failed"


async def test_a_pipeline_past_the_timeout_is_stopped_and_fails(make_settings: Any) -> None:
    async def stuck(request: RunRequest, sink: EventSink, deps: AgentDeps) -> RunResult:
        await sink.emit("agent_started", {"agent": "supervisor"})
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async with _worker(make_settings, stuck, run_timeout_s=0.3) as (rt, worker):
        ack, job = await _submit(rt)
        await asyncio.wait_for(worker.handle(job), 5)
        events = await _events(rt, ack.run_id)
        assert _shape(events) == [
            ("agent_started", "supervisor"),
            ("agent_completed", "supervisor"),
        ]
        assert events[-1].payload["error"]["code"] == "timeout"


async def test_a_pipeline_that_forgets_its_final_event_gets_one(make_settings: Any) -> None:
    async def forgetful(request: RunRequest, sink: EventSink, deps: AgentDeps) -> RunResult:
        await sink.emit("agent_started", {"agent": "supervisor"})
        message_id = await deps.save_assistant_message("the answer", {})
        assert await deps.load_records(None, None, 10) == []  # no usage loader here
        return RunResult("succeeded", message_id=message_id, text="the answer")

    async with _worker(make_settings, forgetful) as (rt, worker):
        ack, job = await _submit(rt)
        await worker.handle(job)
        final = (await _events(rt, ack.run_id))[-1].payload
        assert final["status"] == "succeeded" and final["result"]["text"] == "the answer"


async def test_a_run_whose_worker_died_too_often_is_taken_over_and_ends_failed(
    make_settings: Any,
) -> None:
    async with _worker(make_settings, run_stale_after_s=1, run_max_attempts=1) as (rt, worker):
        ack, job = await _submit(rt)

        async def dead_worker_got_this_far(s: Any) -> None:
            assert await RunRepository(s, "o1").claim_queued(ack.run_id, "dead-worker")
            for type_, payload in [
                ("agent_started", {"agent": "supervisor"}),
                ("tool_executing", {"agent": "supervisor", "tool": "q", "tool_call_id": "t9"}),
            ]:
                await append_event(s, run_id=ack.run_id, org_id="o1", type_=type_, payload=payload)
            await s.execute(
                update(Run)
                .where(Run.id == ack.run_id)
                .values(heartbeat_at=utcnow() - timedelta(seconds=5))
            )

        await rt.db.run(dead_worker_got_this_far)
        await worker.handle(Job("j1", job.data, deliveries=2))
        events = await _events(rt, ack.run_id)
        assert _shape(events) == [
            ("agent_started", "supervisor"),
            ("tool_executing", "supervisor"),
            ("tool_completed", "supervisor"),
            ("agent_completed", "supervisor"),
        ]
        assert events[2].payload["tool_call_id"] == "t9"
        assert events[-1].payload["error"]["code"] == "worker_lost"
        run = await _run_row(rt, ack.run_id)
        assert run.status == "failed" and str(run.worker_id).startswith("w-test#")


async def test_a_live_holder_keeps_its_run(make_settings: Any) -> None:
    async with _worker(make_settings, run_stale_after_s=60) as (rt, worker):
        ack, job = await _submit(rt)
        await rt.db.run(lambda s: RunRepository(s, "o1").claim_queued(ack.run_id, "alive"))
        await worker.handle(job)  # heartbeat is fresh: not taken
        assert await _events(rt, ack.run_id) == []
        assert (await _run_row(rt, ack.run_id)).worker_id == "alive"


async def test_cancel_before_start_and_while_running(make_settings: Any) -> None:
    async with _worker(make_settings, placeholder_step_delay_s=0.2) as (rt, worker):
        published: list[StoredEvent] = []

        async def publish(events: list[StoredEvent]) -> None:
            published.extend(events)

        queued, job = await _submit(rt)
        await rt.db.run(lambda s: service.cancel_run(s, CTX, queued.run_id, publish))
        assert [e.seq for e in published] == [1, 2]
        assert published[-1].payload == {"agent": "supervisor", "status": "cancelled"}
        await worker.handle(job)  # already over: nothing more
        assert len(await _events(rt, queued.run_id)) == 2

        running, job = await _submit(rt)
        task = asyncio.create_task(worker.handle(job))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not await _events(rt, running.run_id):  # cancelled while running, not before
            assert loop.time() < deadline, "the run never started"
            await asyncio.sleep(0.01)
        await rt.db.run(lambda s: service.cancel_run(s, CTX, running.run_id, publish))
        await asyncio.wait_for(task, 5)
        events = await _events(rt, running.run_id)
        assert events[-1].payload["agent"] == "supervisor"
        assert events[-1].payload["status"] == "cancelled"
        assert (await _run_row(rt, running.run_id)).status == "cancelled"


async def test_two_users_concurrent_runs_share_no_state(make_settings: Any) -> None:
    seen: list[tuple[str, str, str]] = []  # (run's user, context org, org the loader got)

    async def loader(org_id: str, start: Any, end: Any, limit: int) -> list[Any]:
        await asyncio.sleep(0.05)  # let the other run interleave
        return [org_id]

    async def pipeline(request: RunRequest, sink: EventSink, deps: AgentDeps) -> RunResult:
        await sink.emit("agent_started", {"agent": "supervisor"})
        records = await deps.load_records(None, None, 10)
        seen.append((request.context.user_id, request.context.org_id, records[0]))
        text = f"answer for {request.context.user_id}"
        message_id = await deps.save_assistant_message(text, {})
        await sink.emit(
            "agent_completed",
            {"agent": "supervisor", "status": "succeeded",
             "result": {"message_id": message_id, "text": text}},
        )  # fmt: skip
        return RunResult("succeeded", message_id=message_id, text=text)

    async with _worker(make_settings, pipeline) as (rt, worker):
        rt.services.provide(RECORD_LOADER, loader)
        alice = UserContext(user_id="alice", org_id="org-a", tier="free", role="member")
        bob = UserContext(user_id="bob", org_id="org-b", tier="free", role="member")
        (ack_a, job_a), (ack_b, job_b) = await _submit(rt, alice), await _submit(rt, bob)
        await asyncio.gather(worker.handle(job_a), worker.handle(job_b))
        assert sorted(seen) == [("alice", "org-a", "org-a"), ("bob", "org-b", "org-b")]
        for ctx, ack in ((alice, ack_a), (bob, ack_b)):
            events = await rt.db.run(
                lambda s, ctx=ctx, ack=ack: events_after(
                    s, run_id=ack.run_id, org_id=ctx.org_id, after_seq=0
                )
            )
            assert [e.seq for e in events] == [1, 2]
            assert events[-1].payload["result"]["text"] == f"answer for {ctx.user_id}"
        # Another organisation cannot read a run's events, even knowing its id.
        assert (
            await rt.db.run(
                lambda s: events_after(s, run_id=ack_a.run_id, org_id="org-b", after_seq=0)
            )
            == []
        )


async def test_a_worker_without_a_pipeline_refuses_to_start(make_settings: Any) -> None:
    async with _worker(make_settings, placeholder_pipeline=False) as (rt, worker):
        assert PIPELINE not in rt.services
        with pytest.raises(ConfigurationError, match="no agent pipeline"):
            await worker.start()


async def test_a_cancel_heard_on_the_bus_stops_the_run_without_polling(
    make_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netra.chat import cancels

    monkeypatch.setattr(cancels, "SLOW_POLL_S", 3600.0)  # the database is asked once, at start
    asked: list[str] = []
    real = RunRepository.cancel_requested

    async def counted(self: RunRepository, run_id: str) -> bool:
        asked.append(run_id)
        return await real(self, run_id)

    monkeypatch.setattr(RunRepository, "cancel_requested", counted)
    async with _worker(make_settings, placeholder_step_delay_s=0.2) as (rt, worker):
        await worker.cancels.start()
        assert worker.cancels.listening.is_set()
        ack, job = await _submit(rt)
        task = asyncio.create_task(worker.handle(job))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while not asked:  # the run's first check asked the database: it is executing
            assert loop.time() < deadline, "the run never started"
            await asyncio.sleep(0.01)
        published: list[StoredEvent] = []

        async def publish(events: list[StoredEvent]) -> None:
            published.extend(events)

        await rt.db.run(lambda s: service.cancel_run(s, CTX, ack.run_id, publish))
        await cancels.announce_cancel(rt.bus, ack.run_id)
        await asyncio.wait_for(task, 30)
        await worker.cancels.stop()
        assert asked == [ack.run_id]  # heard, not polled
        assert (await _run_row(rt, ack.run_id)).status == "cancelled"
        assert (await _events(rt, ack.run_id))[-1].payload["status"] == "cancelled"
        assert worker.cancels._flags == {}  # forgotten once the run ended
