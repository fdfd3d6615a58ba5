"""The run worker: takes runs from the queue and executes the agent pipeline on them.

Exactly-once execution: the queue delivers at least once; a run is executed only by the worker
whose conditional update moved it from ``queued`` to ``running``. While running, the worker
refreshes its claim (database heartbeat and queue ``touch``); its events and step results are
stored only while it holds the run (fenced on ``worker_id``).

A worker that dies leaves its job unacknowledged: after ``run_stale_after_s`` another worker
reclaims it, sees the run ``running`` with a stale heartbeat and takes it over: it executes
the run again from its last completed step (the step journal, ``chat_run_steps``), matching
the events the dead worker had stored instead of storing them again, so the client sees one
gapless sequence and one answer. A run whose executions reach ``run_max_attempts``, or whose
deadline (``run_timeout_s`` from its start) has passed, ends ``failed`` instead (``worker_lost``
/ ``timeout``) with the missing events. A periodic sweep takes over stale runs whose job was
lost. A worker that stops gracefully lets its runs finish for ``worker_drain_s`` and releases
the rest (queued again, for another worker to resume).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from netra.agents.contract import (
    PIPELINE,
    RECORD_LOADER,
    REPORT_STORE,
    AgentDeps,
    Pipeline,
    RunRequest,
    RunResult,
)
from netra.agents.conversation.memory import Turn
from netra.auth.tokens import permissions_for
from netra.chat import service
from netra.chat.cancels import CancelWatch
from netra.chat.event_writer import EventWriter
from netra.chat.events import FINAL_STATUSES, OpenItems, RunClosed, StoredEvent, events_after
from netra.chat.models import RUN_FINAL, Message, Run
from netra.chat.repository import MessageRepository, RunRepository, queued_runs, stale_running_runs
from netra.chat.sink import RunSink
from netra.chat.steps import StepJournal
from netra.core.context import UserContext
from netra.core.db import derived_id, utcnow
from netra.core.errors import ConfigurationError, Forbidden
from netra.core.queue import Job
from netra.core.runtime import Runtime

STOP_WAIT_S = 5.0

log = structlog.get_logger("netra.chat.worker")

CANCEL_GRACE_S = 2.0


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    org_id: str
    user_id: str
    tier: str
    role: str
    thread_id: str
    message_id: str
    request_id: str
    cancel_requested: bool
    text: str
    attempts: int = 1
    last_seq: int = 0
    started_at: datetime | None = None
    # Who holds the run: this worker and this execution. A new token per claim, so a second
    # claim (even by the same process, its first execution stalled) fences out the first.
    holder: str = ""

    def context(self) -> UserContext:
        return UserContext(
            user_id=self.user_id,
            org_id=self.org_id,
            tier=self.tier,
            role=self.role,
            permissions=frozenset(permissions_for(self.role)),
            run_id=self.run_id,
            request_id=self.request_id,
        )


async def _info(session: AsyncSession, run: Run) -> RunInfo:
    message = await MessageRepository(session, run.org_id).get(run.message_id)
    text = message.text if isinstance(message, Message) else ""
    return RunInfo(
        run.id, run.org_id, run.user_id, run.tier, run.role, run.thread_id, run.message_id,
        run.request_id, run.cancel_requested, text, run.attempts, run.last_seq, run.started_at,
    )  # fmt: skip


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class RunWorker:
    def __init__(self, runtime: Runtime, writer: EventWriter, name: str | None = None) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.writer = writer
        self.name = name or worker_name()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._running: set[asyncio.Task[Any]] = set()
        self._executing: set[str] = set()  # run ids this process executes right now
        self.cancels = CancelWatch(runtime.bus)

    # ---- life -------------------------------------------------------------------------

    async def start(self) -> None:
        self.pipeline()  # no pipeline, no worker: refuse to start rather than answer nonsense
        await self.cancels.start()
        for i in range(max(1, self.settings.worker_concurrency)):
            self._spawn(self._consume(), f"run-consumer-{i}", self._tasks)
        self._spawn(self._maintain(), "run-maintenance", self._tasks)

    async def stop(self) -> None:
        """Take no more jobs; let runs in flight finish for ``worker_drain_s`` (a restart
        then loses no answer); release the rest to the queue (another worker resumes them)."""
        for task in list(self._tasks):
            task.cancel()
        # Bounded: a consumer cancelled inside a client library's read must not hold the
        # shutdown (seen with redis-py); the queue's close drops its connections after us.
        if self._tasks:
            _, stuck = await asyncio.wait(set(self._tasks), timeout=STOP_WAIT_S)
            if stuck:
                log.warning("worker tasks did not stop in time", tasks=len(stuck))
        if self._running:
            await asyncio.wait(set(self._running), timeout=self.settings.worker_drain_s)
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        await self.cancels.stop()

    def _spawn(self, coro: Any, name: str, into: set[asyncio.Task[Any]]) -> None:
        task = asyncio.create_task(coro, name=name)
        into.add(task)
        task.add_done_callback(into.discard)

    def pipeline(self) -> Pipeline:
        if self.settings.placeholder_pipeline:  # tests only: refused elsewhere by settings
            from netra.chat.placeholder_pipeline import PlaceholderPipeline

            return PlaceholderPipeline(
                self.settings.placeholder_step_delay_s, self.settings.placeholder_thinking_events
            )
        configured = self.runtime.services.get(PIPELINE)
        if configured is None:
            raise ConfigurationError(
                ["no agent pipeline is configured: list the agents component before the worker"]
            )
        return configured

    # ---- taking jobs --------------------------------------------------------------------

    async def _consume(self) -> None:
        queue = self.runtime.queue
        while True:
            try:
                job = await queue.reserve(self.name, timeout_s=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("queue unavailable", error=str(exc))
                await asyncio.sleep(1.0)
                continue
            if job is not None:
                await self._guarded(job)

    async def _guarded(self, job: Job) -> None:
        task = asyncio.create_task(self.handle(job), name=f"run-{job.data.get('run_id')}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():
                raise
        except Exception as exc:
            log.error("run job failed", job=job.id, error=repr(exc))

    async def handle(self, job: Job) -> None:
        """Claim the job's run and execute it, end it, or leave it to its live holder."""
        if await self.take(str(job.data.get("run_id")), str(job.data.get("org_id")), job):
            await self.runtime.queue.ack(job)

    async def take(self, run_id: str, org_id: str, job: Job | None) -> bool:
        """Whether this job may be acknowledged (the run executed, ended, or held elsewhere)."""
        stale_before = utcnow() - timedelta(seconds=self.settings.run_stale_after_s)
        holder = f"{self.name}#{uuid.uuid4().hex[:6]}"
        if run_id in self._executing:
            return True  # this process runs it (its heartbeat may lag): never take it twice

        async def claim(session: AsyncSession) -> tuple[str, RunInfo | None]:
            runs = RunRepository(session, org_id)
            if await runs.claim_queued(run_id, holder):
                run = await runs.get(run_id)
                assert run is not None
                return "execute", replace(await _info(session, run), holder=holder)
            run = await runs.get(run_id)
            if run is None or run.status in RUN_FINAL:
                return "done", None
            if run.status == "running" and await runs.claim_stale(run_id, holder, stale_before):
                await session.refresh(run)
                return "takeover", replace(await _info(session, run), holder=holder)
            return "busy", None

        decision, info = await self.runtime.db.run(claim)
        if decision == "busy":
            # A live worker holds the run: this copy of the job goes. Should that worker die,
            # its own copy is reclaimed, and the sweep takes stale runs over whatever the queue
            # says.
            return True
        if decision == "execute" and info is not None:
            await self.execute(info, job)
        elif decision == "takeover" and info is not None:
            await self.take_over(info, job)
        return True

    # ---- executing --------------------------------------------------------------------

    def _deps(self, info: RunInfo) -> AgentDeps:
        services = self.runtime.services
        loader = services.get(RECORD_LOADER)
        store = services.get(REPORT_STORE)
        db = self.runtime.db

        async def load_records(start: Any, end: Any, limit: int) -> list[Any]:
            if loader is None:
                return []
            return list(await loader(info.org_id, start, end, limit))

        async def save_report(report: dict[str, Any]) -> str:
            if store is None:
                raise RuntimeError("no report store is configured in this process")
            return str(await store(info.org_id, report, info.run_id))

        async def save_assistant_message(text: str, meta: dict[str, Any]) -> str:
            return await db.run(
                lambda s: service.save_assistant_message(
                    s,
                    org_id=info.org_id,
                    user_id=info.user_id,
                    thread_id=info.thread_id,
                    run_id=info.run_id,
                    text=text,
                    meta=meta,
                )
            )

        async def load_history() -> list[Turn]:
            """The thread's messages before this run's own, oldest first."""

            async def read(session: AsyncSession) -> list[Turn]:
                messages = await MessageRepository(session, info.org_id).list_in_thread(
                    info.thread_id
                )
                earlier: list[Turn] = []
                for m in messages:
                    if m.id == info.message_id:
                        break
                    earlier.append(Turn(m.role, m.text, dict(m.meta or {})))
                return earlier

            return await db.run(read)

        async def create_budget(scope: str, period: str, limit_usd: float) -> dict[str, Any]:
            from netra.billing import budgets as budget_service
            from netra.billing.schemas import BudgetIn

            ctx = info.context()
            if not ctx.can("budgets:write"):
                raise Forbidden("your role may not create budgets")
            body = BudgetIn(scope=scope, period=period, limit_usd=limit_usd)

            async def create(session: AsyncSession) -> dict[str, Any]:
                budget = await budget_service.create_budget(
                    session,
                    ctx,
                    body,
                    self.settings,
                    budget_id=derived_id("run", info.run_id, "budget"),
                )
                return {
                    "id": budget.id,
                    "scope": budget.scope,
                    "period": budget.period,
                    "limit_usd": budget.limit_usd,
                }

            return await db.run(create)

        return AgentDeps(
            load_records,
            save_report,
            save_assistant_message,
            load_history=load_history,
            create_budget=create_budget,
        )

    def _deadline(self, info: RunInfo) -> float:
        """Seconds left before the run's deadline (``run_timeout_s`` from its first start)."""
        if info.started_at is None:
            return self.settings.run_timeout_s
        spent = (utcnow() - info.started_at).total_seconds()
        return self.settings.run_timeout_s - max(0.0, spent)

    async def execute(self, info: RunInfo, job: Job | None) -> None:
        """Execute the run; from its last completed step when it has events already (it was
        released by a stopping worker or taken over from a dead one)."""
        self._executing.add(info.run_id)
        try:
            await self._execute(info, job)
        finally:
            self._executing.discard(info.run_id)
            self.cancels.forget(info.run_id)

    async def _execute(self, info: RunInfo, job: Job | None) -> None:
        stored = await self._stored_events(info) if info.last_seq else []
        items = OpenItems()
        for event in stored:
            items.track(event.type, event.payload)
        sink = RunSink(
            self.writer, self.runtime.db, info.run_id, info.org_id, items,
            worker_id=info.holder, replay=stored, cancels=self.cancels,
        )  # fmt: skip
        deps = self._deps(info)
        journal = StepJournal(self.runtime.db, info.run_id, info.org_id, info.holder, sink)
        if stored:
            await journal.load()
            log.info("resuming a run", run_id=info.run_id, attempt=info.attempts,
                     stored_events=len(stored))  # fmt: skip
        deps.steps = journal
        status, error, result = "failed", None, None
        if info.cancel_requested:
            status = "cancelled"
        else:
            request = RunRequest(
                info.context(), info.run_id, info.thread_id, info.message_id, info.text
            )
            beat = asyncio.create_task(self._heartbeat(info, job, sink))
            task = asyncio.create_task(self.pipeline()(request, sink, deps))
            try:
                status, error, result = await self._supervise(task, sink, self._deadline(info))
            except asyncio.CancelledError:
                await _stop(task)
                if not sink.lost:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(self._release(info, job), 3)
                raise
            finally:
                beat.cancel()
        await sink.drain()  # what the pipeline emitted is settled before the run is ended
        if sink.lost:
            return
        if sink.diverged:
            status, result = "failed", None
            reason = "the run could not be resumed where its worker stopped"
            error = {"code": "resume_failed", "message": reason}
        await self._finish(info, sink, status, error, result)

    async def _release(self, info: RunInfo, job: Job | None) -> None:
        """Give the run back (this worker stops): queued again for another worker."""
        released = await self.runtime.db.run(
            lambda s: RunRepository(s, info.org_id).release(info.run_id, info.holder)
        )
        if not released:
            return
        log.info("released a run to the queue", run_id=info.run_id)
        with contextlib.suppress(Exception):
            await self.runtime.queue.enqueue({"run_id": info.run_id, "org_id": info.org_id})
            if job is not None:
                await self.runtime.queue.ack(job)

    async def take_over(self, info: RunInfo, job: Job | None) -> None:
        """A run whose worker died: executed again from its last step, or ended ``failed``
        when it has used its attempts or its time."""
        if info.attempts > self.settings.run_max_attempts:
            error = {"code": "worker_lost",
                     "message": f"the run's worker stopped {info.attempts - 1} times"}  # fmt: skip
            await self.end_abandoned(info, error)
        elif self._deadline(info) <= 0:
            timeout = self.settings.run_timeout_s
            await self.end_abandoned(
                info, {"code": "timeout", "message": f"the run took over {timeout:g}s"}
            )
        else:
            log.warning("taking over a run whose worker stopped", run_id=info.run_id,
                        attempt=info.attempts)  # fmt: skip
            await self.execute(info, job)

    async def _finish(
        self,
        info: RunInfo,
        sink: RunSink,
        status: str,
        error: dict[str, str] | None,
        result: dict[str, Any] | None,
    ) -> None:
        if status == "succeeded" and result is None and not sink.items.finished:
            status, error = "failed", {"code": "no_answer", "message": "the agents gave no answer"}
        try:
            await sink.close(status, error, result)
        except RunClosed:
            return  # already ended (cancelled before it started, or taken over)
        # The run.completed webhook event was recorded with the run's final event.
        self.runtime.metrics.runs.labels(status).inc()

    async def _supervise(
        self, task: asyncio.Task[RunResult], sink: RunSink, time_left_s: float
    ) -> tuple[str, dict[str, str] | None, dict[str, Any] | None]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + time_left_s
        cancel_seen: float | None = None
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0 or sink.lost:
                await _stop(task)
                timeout = self.settings.run_timeout_s
                return (
                    "failed",
                    {"code": "timeout", "message": f"the run took over {timeout}s"},
                    None,
                )
            await asyncio.wait({task}, timeout=min(0.25, remaining))
            if task.done():
                return _outcome(task)
            if cancel_seen is None:
                with contextlib.suppress(Exception):
                    if await sink.cancelled():
                        cancel_seen = loop.time()
            elif loop.time() - cancel_seen > CANCEL_GRACE_S:
                await _stop(task)  # the pipeline did not stop by itself
                return "cancelled", None, None

    async def _heartbeat(self, info: RunInfo, job: Job | None, sink: RunSink) -> None:
        db, queue = self.runtime.db, self.runtime.queue
        while True:
            await asyncio.sleep(self.settings.run_heartbeat_s)
            try:
                held = await db.run(
                    lambda s: RunRepository(s, info.org_id).heartbeat(info.run_id, info.holder)
                )
                if job is not None and held:
                    # Bounded: a frozen Redis must not stall the database heartbeat.
                    await asyncio.wait_for(
                        queue.touch(job, self.name), self.settings.run_heartbeat_s
                    )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("run heartbeat failed", run_id=info.run_id, error=str(exc))
                continue
            if not held:
                sink.lost = True  # ended or taken over by another worker: stop writing
                return

    # ---- runs whose worker died -------------------------------------------------------

    async def _stored_events(self, info: RunInfo) -> list[StoredEvent]:
        async def read(session: AsyncSession) -> list[StoredEvent]:
            out: list[StoredEvent] = []  # a retried transaction starts over
            while True:
                page = await events_after(
                    session, run_id=info.run_id, org_id=info.org_id,
                    after_seq=out[-1].seq if out else 0,
                )  # fmt: skip
                out.extend(page)
                if len(page) < 1000:
                    return out

        return await self.runtime.db.run(read)

    async def end_abandoned(self, info: RunInfo, error: dict[str, str]) -> None:
        """End a run taken over from a dead worker: close what it left open, ``failed``."""
        items = OpenItems()
        for event in await self._stored_events(info):
            items.track(event.type, event.payload)
        sink = RunSink(
            self.writer, self.runtime.db, info.run_id, info.org_id, items, worker_id=info.holder
        )
        log.warning("ending an abandoned run", run_id=info.run_id, error=error["code"])
        await self._finish(info, sink, "failed", error, None)

    async def _maintain(self) -> None:
        queue = self.runtime.queue
        stale = self.settings.run_stale_after_s
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()  # at start: queued runs an in-process queue lost
        while True:
            try:
                for job in await queue.reclaim(self.name, min_idle_s=stale):
                    self._spawn(self._guarded(job), f"reclaimed-{job.id}", self._tasks)
                if loop.time() >= next_sweep:
                    next_sweep = loop.time() + stale
                    await self._sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("run maintenance failed", error=str(exc))
            await asyncio.sleep(min(self.settings.run_heartbeat_s, stale / 2))

    async def _sweep(self) -> None:
        """Runs stale in the database whatever the queue says: stale running runs are ended,
        runs queued for long are enqueued again (claiming is conditional: no double run)."""
        db, queue = self.runtime.db, self.runtime.queue
        stale_before = utcnow() - timedelta(seconds=self.settings.run_stale_after_s)
        for run_id, org_id in await db.run(lambda s: stale_running_runs(s, stale_before)):
            await self.take(run_id, org_id, None)
        for run_id, org_id in await db.run(lambda s: queued_runs(s, stale_before)):
            await queue.enqueue({"run_id": run_id, "org_id": org_id})


async def _stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _outcome(
    task: asyncio.Task[RunResult],
) -> tuple[str, dict[str, str] | None, dict[str, Any] | None]:
    if task.cancelled():
        return "failed", {"code": "cancelled_task", "message": "the pipeline was interrupted"}, None
    exc = task.exception()
    if exc is not None:
        log.error("pipeline failed", error=repr(exc))
        message = str(exc)[:200] or type(exc).__name__
        return "failed", {"code": "pipeline_error", "message": message}, None
    res = task.result()
    status = res.status if res.status in FINAL_STATUSES else "failed"
    result: dict[str, Any] | None = None
    if res.message_id is not None:
        result = {"message_id": res.message_id, "text": res.text or ""}
        if res.report_id:
            result["report_id"] = res.report_id
    return status, res.error, result
