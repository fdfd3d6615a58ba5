"""A run whose worker dies is taken over and executed again from its last completed step: the
stored events are not stored again, seq continues with no gap, one answer, one report.

The real agent pipeline (fake engine, offline writer) on SQLite and the memory queue. The
"dead" worker is stopped at a chosen event without releasing its run, as a SIGKILL would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from netra.agents.contract import PIPELINE, RECORD_LOADER, REPORT_STORE
from netra.agents.llm.offline import OfflineWriter
from netra.agents.llm.resilient import ResilientWriter
from netra.agents.pipeline import AgentPipeline
from netra.chat import service
from netra.chat.event_writer import EventWriter
from netra.chat.events import NewEvent, RunClosed, StoredEvent, events_after
from netra.chat.models import Message, Run, RunStep
from netra.chat.repository import RunRepository
from netra.chat.worker import RunInfo, RunWorker
from netra.core.context import UserContext
from netra.core.db import utcnow
from netra.core.queue import Job
from netra.core.resilience import CircuitBreaker
from netra.core.runtime import Runtime
from support.agent_fakes import FakeEngine, check_protocol, records
from support.chat_runtime import roomy_limits
from support.runtime import started_runtime

CTX = UserContext(user_id="u1", org_id="o1", tier="enterprise", role="member")
ASK = "where is my money going and how do I cut it?"


@asynccontextmanager
async def _runtime(
    make_settings: Callable[..., Any], model: Any = None
) -> AsyncIterator[tuple[Runtime, list[dict[str, Any]]]]:
    async with started_runtime(make_settings(run_stale_after_s=1)) as rt:
        writer = ResilientWriter(model, OfflineWriter(), CircuitBreaker("llm"))
        rt.services.provide(PIPELINE, AgentPipeline(rt.settings, writer, FakeEngine()))
        data = records(600)
        reports: list[dict[str, Any]] = []

        async def load(org_id: str, start: Any, end: Any, limit: int) -> list[Any]:
            return data[:limit]

        async def store(org_id: str, report: dict[str, Any], run_id: str) -> str:
            # Keyed by run as the real store is: the step executed again finds its report.
            if not any(r.get("run_id") == run_id for r in reports):
                reports.append({**report, "run_id": run_id})
            return f"rep_{next(i for i, r in enumerate(reports) if r['run_id'] == run_id) + 1}"

        rt.services.provide(RECORD_LOADER, load)
        rt.services.provide(REPORT_STORE, store)
        yield rt, reports


async def _submit(rt: Runtime) -> tuple[service.Ack, Job]:
    jobs: list[dict[str, Any]] = []

    async def enqueue(job: dict[str, Any]) -> None:
        jobs.append(job)

    ack = await rt.db.run(
        lambda s: service.submit_user_message(
            s, CTX, text=ASK, thread_id=None, frame_id=None, limits=roomy_limits(),
            enqueue=enqueue,
        )
    )  # fmt: skip
    return ack, Job("j1", jobs[0])


async def _events(rt: Runtime, run_id: str) -> list[StoredEvent]:
    return await rt.db.run(lambda s: events_after(s, run_id=run_id, org_id="o1", after_seq=0))


def _shape(events: list[StoredEvent]) -> list[tuple[str, str, str]]:
    return [(e.type, str(e.payload["agent"]), str(e.payload.get("tool", ""))) for e in events]


class _DyingWriter(EventWriter):
    """Stores a run's first ``n`` events, then hangs on the next: the process stops there."""

    def __init__(self, rt: Runtime, n: int) -> None:
        super().__init__(rt.db, rt.bus, rt.metrics)
        self.left = n
        self.dead = asyncio.Event()
        self.buried = asyncio.Event()
        self._hanging: set[asyncio.Task[None]] = set()

    def submit(
        self, event: NewEvent, after: asyncio.Future[StoredEvent] | None = None
    ) -> asyncio.Future[StoredEvent]:
        if self.left > 0:
            self.left -= 1
            return super().submit(event, after)
        fut: asyncio.Future[StoredEvent] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(lambda f: f.exception())  # the dead sink never reads it
        task = asyncio.create_task(self._hang(fut, after))
        self._hanging.add(task)
        task.add_done_callback(self._hanging.discard)
        return fut

    async def _hang(
        self, fut: asyncio.Future[StoredEvent], after: asyncio.Future[StoredEvent] | None
    ) -> None:
        if after is not None:
            await asyncio.wait({after})  # the n-th event is committed: the process stops here
        self.dead.set()
        await self.buried.wait()  # nothing more is stored by this "process"
        if not fut.done():
            fut.set_exception(RunClosed("the process is gone"))


async def _die_after(rt: Runtime, job: Job, run_id: str, n: int) -> RunWorker:
    """A worker executes the run and dies right after its n-th event is stored (no release,
    no final events), as a SIGKILL at that point would leave it."""
    writer = _DyingWriter(rt, n)
    await writer.start()
    doomed = RunWorker(rt, writer, name="doomed")

    async def no_release(info: RunInfo, job: Job | None) -> None:
        return None  # a killed process releases nothing

    doomed._release = no_release  # type: ignore[method-assign]
    task = asyncio.create_task(doomed.handle(job))
    await asyncio.wait_for(writer.dead.wait(), 60)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    writer.buried.set()  # an engine thread still emitting gets an error, not a hang
    await writer.stop()
    assert len(await _events(rt, run_id)) == n
    # Its heartbeat stopped: once stale, another worker may take the run over.
    await rt.db.run(
        lambda s: s.execute(
            update(Run).where(Run.id == run_id).values(heartbeat_at=utcnow() - timedelta(seconds=5))
        )
    )
    return doomed


async def _complete_run(make_settings: Callable[..., Any]) -> list[tuple[str, str, str]]:
    async with _runtime(make_settings) as (rt, _reports):
        ack, job = await _submit(rt)
        writer = EventWriter(rt.db, rt.bus, rt.metrics)
        await writer.start()
        await RunWorker(rt, writer, name="alone").handle(job)
        await writer.stop()
        return _shape(await _events(rt, ack.run_id))


@pytest.mark.parametrize("share", [0.0, 0.05, 0.15, 0.3, 0.5, 0.7, 0.85, 0.99])
async def test_a_run_taken_over_resumes_from_its_last_step(
    make_settings: Callable[..., Any], share: float
) -> None:
    """The worker dies after a share of the run's events (from the first to the last but one:
    inside triage, between steps, inside a step, after the report was saved)."""
    expected = await _complete_run(make_settings)
    dies_after = min(len(expected) - 1, max(1, round(len(expected) * share)))
    async with _runtime(make_settings) as (rt, reports):
        ack, job = await _submit(rt)
        await _die_after(rt, job, ack.run_id, dies_after)
        before = await _events(rt, ack.run_id)
        assert before and not any(e.payload.get("agent") == "supervisor" and
                                  e.type == "agent_completed" for e in before)  # fmt: skip
        writer = EventWriter(rt.db, rt.bus, rt.metrics)
        await writer.start()
        await RunWorker(rt, writer, name="heir").handle(Job("j1", job.data, deliveries=2))
        await writer.stop()

        events = await _events(rt, ack.run_id)
        # What the dead worker stored is kept as it was; the rest follows with no gap.
        assert events[: len(before)] == before
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        # The same run an uninterrupted execution gives: no step's events twice.
        assert _shape(events) == expected
        check_protocol([(e.type, e.payload) for e in events])
        final = events[-1].payload
        assert final["status"] == "succeeded", final

        async def stored(s: Any) -> tuple[Run | None, int, list[str]]:
            run = await RunRepository(s, "o1").get(ack.run_id)
            answers = await s.scalar(
                select(func.count()).select_from(Message).where(
                    Message.run_id == ack.run_id, Message.role == "assistant"
                )
            )  # fmt: skip
            steps = list(await s.scalars(select(RunStep.name).where(RunStep.run_id == ack.run_id)))
            return run, int(answers or 0), steps

        run, answers, steps = await rt.db.run(stored)
        assert (
            run is not None and run.status == "succeeded" and str(run.worker_id).startswith("heir#")
        )
        assert run.attempts == 2
        assert answers == 1  # one answer, stored once
        assert final["result"]["report_id"] == "rep_1" and len(reports) == 1
        assert {"data", "optimizer", "actions", "reporting", "report_saved"} <= set(steps)


async def test_a_dead_workers_late_events_are_refused_once_taken_over(
    make_settings: Callable[..., Any],
) -> None:
    async with _runtime(make_settings) as (rt, _reports):
        ack, job = await _submit(rt)
        await _die_after(rt, job, ack.run_id, 3)
        doomed_holder = (
            await rt.db.run(lambda s: RunRepository(s, "o1").get(ack.run_id))
        ).worker_id
        claimed = await rt.db.run(
            lambda s: RunRepository(s, "o1").claim_stale(ack.run_id, "heir", utcnow())
        )
        assert claimed and str(doomed_holder).startswith("doomed#")
        writer = EventWriter(rt.db, rt.bus, rt.metrics)
        await writer.start()

        late = {"agent": "supervisor", "thought": "late"}
        with pytest.raises(RunClosed):
            await writer.append(ack.run_id, "o1", "agent_thinking", late, doomed_holder)
        mine = {"agent": "supervisor", "thought": "mine"}
        stored = await writer.append(ack.run_id, "o1", "agent_thinking", mine, "heir")
        await writer.stop()
        assert stored.seq == len(await _events(rt, ack.run_id))


async def _dead_worker_stored(rt: Runtime, run_id: str, events: list[tuple[str, dict[str, Any]]],
                              started_ago_s: float = 0) -> None:  # fmt: skip
    from netra.chat.events import append_event

    async def work(s: Any) -> None:
        assert await RunRepository(s, "o1").claim_queued(run_id, "dead#1")
        for type_, payload in events:
            await append_event(s, run_id=run_id, org_id="o1", type_=type_, payload=payload)
        old = utcnow() - timedelta(seconds=5)
        await s.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(heartbeat_at=old, started_at=utcnow() - timedelta(seconds=started_ago_s))
        )

    await rt.db.run(work)


async def _take_over(rt: Runtime, job: Job) -> list[StoredEvent]:
    writer = EventWriter(rt.db, rt.bus, rt.metrics)
    await writer.start()
    await RunWorker(rt, writer, name="heir").handle(Job("j1", job.data, deliveries=2))
    await writer.stop()
    return await _events(rt, str(job.data["run_id"]))


async def test_a_resume_that_takes_another_path_fails_instead_of_telling_two_stories(
    make_settings: Callable[..., Any],
) -> None:
    async with _runtime(make_settings) as (rt, _reports):
        ack, job = await _submit(rt)
        # What the dead worker stored is not what this pipeline does first.
        stored = [
            ("agent_started", {"agent": "supervisor"}),
            ("agent_started", {"agent": "optimizer"}),
            ("tool_executing", {"agent": "optimizer", "tool": "x", "tool_call_id": "c1",
                                "args": {}}),
        ]  # fmt: skip
        await _dead_worker_stored(rt, ack.run_id, stored)
        events = await _take_over(rt, job)
        check_protocol([(e.type, e.payload) for e in events])
        assert [(e.type, e.payload["agent"]) for e in events[:3]] == [
            (t, p["agent"]) for t, p in stored
        ]
        final = events[-1].payload
        assert final["status"] == "failed" and final["error"]["code"] == "resume_failed"


async def test_a_run_past_its_deadline_is_not_resumed(make_settings: Callable[..., Any]) -> None:
    async with _runtime(make_settings) as (rt, _reports):
        ack, job = await _submit(rt)
        stored = [("agent_started", {"agent": "supervisor"})]
        await _dead_worker_stored(rt, ack.run_id, stored, started_ago_s=rt.settings.run_timeout_s)
        events = await _take_over(rt, job)
        assert [e.seq for e in events] == [1, 2]
        assert events[-1].payload["error"]["code"] == "timeout"


class _FickleModel:
    """A language model that never answers the same twice: its first reply calls a tool, every
    later one answers at once. Executed again from scratch, a run would take another path."""

    name = "fickle"

    def __init__(self) -> None:
        self.calls = 0

    async def write(self, brief: Any) -> str:
        raise RuntimeError("not used: the model drives the tools")

    async def chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        self.calls += 1
        usage = {"prompt_tokens": 10, "completion_tokens": 5}
        if self.calls == 1:
            function = {"name": "spend_breakdown", "arguments": '{"by": "feature"}'}
            call = {"id": "call-1", "type": "function", "function": function}
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
            return {"message": message, "usage": usage}
        return {"message": {"role": "assistant", "content": "Mostly one feature."}, "usage": usage}


async def test_a_model_driven_run_resumes_with_the_models_first_choices(
    make_settings: Callable[..., Any],
) -> None:
    """The worker dies right after the model's tool call started: the heir reads the model's
    journaled reply instead of asking again, so it calls the same tool and the run completes."""
    async with _runtime(make_settings, _FickleModel()) as (rt, _reports):
        ack, job = await _submit(rt)
        writer = EventWriter(rt.db, rt.bus, rt.metrics)
        await writer.start()
        await RunWorker(rt, writer, name="alone").handle(job)
        await writer.stop()
        expected = _shape(await _events(rt, ack.run_id))
    assert ("tool_executing", "assistant", "spend_breakdown") in expected
    dies_after = expected.index(("tool_executing", "assistant", "spend_breakdown")) + 1

    model = _FickleModel()
    async with _runtime(make_settings, model) as (rt, _reports):
        ack, job = await _submit(rt)
        await _die_after(rt, job, ack.run_id, dies_after)
        asked = model.calls  # 1, or 2 when the dying worker had asked again before it stopped
        events = await _take_over(rt, job)
        # The first reply was read from the journal, not asked again: one more call answers.
        assert model.calls == asked + 1
        assert _shape(events) == expected
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        final = events[-1].payload
        assert final["status"] == "succeeded", final
        assert final["result"]["text"] == "Mostly one feature."
