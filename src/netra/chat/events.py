"""Run events: durable storage with per-run ``seq``, reading back, and their wire frames.

``seq`` is assigned in the transaction that stores the event, by incrementing the run's
``last_seq`` counter (an ``UPDATE ... RETURNING`` that locks the run row, so concurrent writers
of one run are serialised and ``seq`` has no gap and no repeat). The update only matches a run
that has not ended: nothing can be stored after the supervisor's final ``agent_completed``,
which sets the run's final status in the same transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, and_, bindparam, case, insert, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from netra.billing.webhooks import Deliver, emit_event
from netra.chat.models import RUN_ACTIVE, Run, RunEvent
from netra.core.db import utcnow

EVENT_TYPES = (
    "agent_started",
    "agent_thinking",
    "tool_executing",
    "tool_completed",
    "agent_completed",
)
SUPERVISOR = "supervisor"
FINAL_STATUSES = ("succeeded", "failed", "cancelled")


class RunClosed(Exception):
    """The run has ended (or does not exist in this organisation): no event may follow."""


def user_channel(user_id: str) -> str:
    """The bus channel carrying every run event of one user (one per user, on every replica)."""
    return f"user:{user_id}"


def rfc3339(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class StoredEvent:
    run_id: str
    thread_id: str
    user_id: str
    seq: int
    type: str
    payload: dict[str, Any]
    ts: datetime

    def frame(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "ts": rfc3339(self.ts),
            "run_id": self.run_id,
            "thread_id": self.thread_id,
            "seq": self.seq,
            "payload": self.payload,
        }

    def wire(self) -> bytes:
        return json.dumps(self.frame(), separators=(",", ":")).encode()

    @property
    def is_final(self) -> bool:
        return is_final_event(self.type, self.payload)


def is_final_event(type_: str, payload: dict[str, Any]) -> bool:
    return type_ == "agent_completed" and payload.get("agent") == SUPERVISOR


@dataclass(frozen=True, slots=True)
class NewEvent:
    run_id: str
    org_id: str
    type: str
    payload: dict[str, Any]
    # The worker writing it: stored only while that worker holds the run (a worker whose run
    # was taken over can no longer write into it). None: not fenced (the API's own events).
    worker_id: str | None = None


async def append_events(
    session: AsyncSession, batch: list[NewEvent], deliver: Deliver | None = None
) -> list[StoredEvent | Exception]:
    """Store a batch of events, each with its run's next ``seq``, in three statements whatever
    the batch size: one ``UPDATE ... RETURNING`` of the runs' counters (only runs not ended, in
    the caller's organisation), one update of the runs a supervisor's final event ends, one
    multi-row ``INSERT``. Per event: its stored form, or the error that refused it
    (:class:`RunClosed`: the run ended or is not found; ``ValueError``: a bad final status).

    A run ended here gets its ``run.completed`` webhook event in the same transaction (handed
    to ``deliver`` once committed)."""
    results: list[StoredEvent | Exception | None] = [None] * len(batch)
    per_run: dict[tuple[str, str, str | None], list[int]] = {}
    finals: dict[str, tuple[str, Any]] = {}
    writer_of: dict[str, str | None] = {}
    for i, item in enumerate(batch):
        key = (item.run_id, item.org_id, item.worker_id)
        # One writer per run in a batch (its counter moves once): another writer's events
        # are refused, as the fence would refuse them one transaction later anyway.
        if writer_of.setdefault(item.run_id, item.worker_id) != item.worker_id:
            results[i] = RunClosed(f"run {item.run_id} is written by another worker")
            continue
        if item.run_id in finals:
            results[i] = RunClosed(f"run {item.run_id} has ended")
            continue
        if is_final_event(item.type, item.payload):
            status = str(item.payload.get("status"))
            if status not in FINAL_STATUSES:
                results[i] = ValueError(f"final agent_completed has an invalid status: {status!r}")
                continue
            finals[item.run_id] = (status, item.payload.get("error"))
        per_run.setdefault(key, []).append(i)
    if per_run:
        counts: dict[str, int] = {}
        for (run_id, _, _), idx in per_run.items():
            counts[run_id] = counts.get(run_id, 0) + len(idx)
        matches = [
            and_(Run.id == run_id, Run.org_id == org_id,
                 Run.worker_id == worker_id if worker_id is not None else true())
            for run_id, org_id, worker_id in per_run
        ]  # fmt: skip
        stmt = (
            update(Run)
            .where(or_(*matches), Run.status.in_(RUN_ACTIVE))
            .values(last_seq=Run.last_seq + case(counts, value=Run.id, else_=0))
            .returning(Run.id, Run.last_seq, Run.thread_id, Run.user_id)
            .execution_options(synchronize_session=False)
        )
        rows = {str(r[0]): r for r in (await session.execute(stmt)).all()}
        now = utcnow()
        org_of = {run_id: org_id for run_id, org_id, _ in per_run}
        for run_id, (status, error) in finals.items():
            if run_id in rows:
                await session.execute(
                    update(Run)
                    .where(Run.id == run_id)
                    .values(status=status, finished_at=now, error=error)
                    .execution_options(synchronize_session=False)
                )
                data = {"run_id": run_id, "thread_id": str(rows[run_id][2]), "status": status}
                await emit_event(session, org_of[run_id], "run.completed", data, deliver=deliver)
        inserts: list[dict[str, Any]] = []
        next_seq = {run_id: int(row[1]) - counts[run_id] + 1 for run_id, row in rows.items()}
        for (run_id, _, _), indexes in per_run.items():
            row = rows.get(run_id)
            if row is None:
                for i in indexes:
                    results[i] = RunClosed(f"run {run_id} has ended or does not exist")
                continue
            for i in indexes:
                item = batch[i]
                seq, next_seq[run_id] = next_seq[run_id], next_seq[run_id] + 1
                event = StoredEvent(
                    run_id, str(row[2]), str(row[3]), seq, item.type, item.payload, now
                )
                results[i] = event
                inserts.append(
                    {"run_id": run_id, "seq": event.seq, "type": item.type,
                     "payload": item.payload, "ts": now}
                )  # fmt: skip
        if inserts:
            await session.execute(insert(RunEvent), inserts)
    return [r if r is not None else RunClosed("not stored") for r in results]


async def append_event(
    session: AsyncSession, *, run_id: str, org_id: str, type_: str, payload: dict[str, Any]
) -> StoredEvent:
    """Store one event with the run's next ``seq`` (see :func:`append_events`)."""
    (result,) = await append_events(session, [NewEvent(run_id, org_id, type_, payload)])
    if isinstance(result, Exception):
        raise result
    return result


async def events_after(
    session: AsyncSession,
    *,
    run_id: str,
    org_id: str,
    after_seq: int,
    up_to: int | None = None,
    limit: int = 1000,
) -> list[StoredEvent]:
    """The stored events of a run with ``after_seq < seq [<= up_to]``, in order."""
    stmt = (
        select(RunEvent, Run.thread_id, Run.user_id)
        .join(Run, Run.id == RunEvent.run_id)
        .where(RunEvent.run_id == run_id, Run.org_id == org_id, RunEvent.seq > after_seq)
        .order_by(RunEvent.seq)
        .limit(limit)
    )
    if up_to is not None:
        stmt = stmt.where(RunEvent.seq <= up_to)
    rows = (await session.execute(stmt)).all()
    return [
        StoredEvent(ev.run_id, thread_id, user_id, ev.seq, ev.type, ev.payload, ev.ts)
        for ev, thread_id, user_id in rows
    ]


# Built once: a storm of reconnecting clients runs it thousands of times.
_REPLAY_PAGE = (
    select(Run.thread_id, RunEvent.seq, RunEvent.type, RunEvent.payload, RunEvent.ts)
    .select_from(Run)
    .outerjoin(RunEvent, and_(RunEvent.run_id == Run.id, RunEvent.seq > bindparam("after")))
    .where(
        Run.id == bindparam("run"), Run.org_id == bindparam("org"), Run.user_id == bindparam("user")
    )
    .order_by(RunEvent.seq)
    .limit(bindparam("n", type_=Integer))
)


async def replay_page(
    session: AsyncSession, *, run_id: str, org_id: str, user_id: str, after_seq: int, limit: int
) -> list[StoredEvent] | None:
    """The first page of a ``resume``: the user's run's events with ``seq > after_seq``, in
    order; None when the run is not this user's. One statement (the run left-joined to its
    events), columns rather than ORM objects: a reconnect storm resumes thousands at once."""
    values = {"run": run_id, "org": org_id, "user": user_id, "after": after_seq, "n": limit}
    rows = (await session.execute(_REPLAY_PAGE, values)).all()
    if not rows:
        return None
    return [
        StoredEvent(run_id, thread_id, user_id, seq, type_, payload, ts)
        for thread_id, seq, type_, payload, ts in rows
        if seq is not None  # the run's row alone: nothing after ``after_seq``
    ]


# ---- what is still open in a run (so a failed run can be closed in order) ----------------


@dataclass
class OpenItems:
    """Agents started and not completed (innermost last) and tools executing, per run."""

    started: bool = False
    finished: bool = False
    agents: list[str] = field(default_factory=list)
    tools: dict[str, tuple[str, str]] = field(default_factory=dict)  # call id -> (agent, tool)

    def track(self, type_: str, payload: dict[str, Any]) -> None:
        agent = str(payload.get("agent", ""))
        if type_ == "agent_started":
            self.started = True
            self.agents.append(agent)
        elif type_ == "agent_completed":
            if agent in self.agents:
                # Close it and anything started inside it that was left open.
                del self.agents[self.agents.index(agent) :]
            if agent == SUPERVISOR:
                self.finished = True
        elif type_ == "tool_executing":
            self.tools[str(payload.get("tool_call_id"))] = (agent, str(payload.get("tool", "")))
        elif type_ == "tool_completed":
            self.tools.pop(str(payload.get("tool_call_id")), None)

    def closing_events(
        self, status: str, error: dict[str, str] | None, result: dict[str, Any] | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        """The events that end the run with ``status`` while keeping the ordering guarantees:
        each open tool completes (error), each open agent completes (innermost first), the
        supervisor last. Starts the supervisor first when nothing was emitted yet."""
        out: list[tuple[str, dict[str, Any]]] = []
        if self.finished:
            return out
        agents = list(self.agents)
        if not self.started or SUPERVISOR not in agents:
            out.append(("agent_started", {"agent": SUPERVISOR}))
            agents = [SUPERVISOR]
        for call_id, (agent, tool) in self.tools.items():
            out.append(
                (
                    "tool_completed",
                    {
                        "agent": agent,
                        "tool": tool,
                        "tool_call_id": call_id,
                        "status": "error",
                        "duration_ms": 0,
                        "result": {"error": (error or {}).get("code", status)},
                    },
                )
            )
        for agent in reversed(agents[agents.index(SUPERVISOR) + 1 :]):
            sub: dict[str, Any] = {"agent": agent, "status": status}
            if error:
                sub["error"] = error
            out.append(("agent_completed", sub))
        final: dict[str, Any] = {"agent": SUPERVISOR, "status": status}
        if result is not None and status == "succeeded":
            final["result"] = result
        if error:
            final["error"] = error
        out.append(("agent_completed", final))
        return out
