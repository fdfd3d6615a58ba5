"""The contract between the run executor (chat/worker) and the agent pipeline (agents/).

The worker builds a :class:`RunRequest` and an :class:`EventSink`, and calls
``execute(request, sink, deps)`` of the configured pipeline. The pipeline emits run events
through the sink (the sink assigns ``seq``, stores, then publishes) and returns a
:class:`RunResult`. It never touches the WebSocket, the queue or another user's data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from netra.agents.conversation.memory import Turn
from netra.core.context import UserContext
from netra.core.services import Service
from netra.records.record import UsageRecord


@dataclass(frozen=True, slots=True)
class RunRequest:
    context: UserContext  # carries user, org, tier, run_id, request_id
    run_id: str
    thread_id: str
    message_id: str  # the user's message
    text: str


class EventSink(Protocol):
    async def emit(self, type: str, payload: dict[str, Any]) -> int:
        """Store then publish one run event; returns its ``seq``. It may return before the
        event is committed: a failed write is raised by a later ``emit``."""
        ...

    async def cancelled(self) -> bool:
        """Whether the user asked to cancel (checked between tool calls)."""
        ...


class StepStore(Protocol):
    """The durable results of a run's completed steps (a run taken over by another worker
    restores them instead of executing the steps again)."""

    async def done(self, name: str) -> dict[str, Any] | None:
        """The stored result of step ``name``, or None when it has not completed."""
        ...

    async def record(self, name: str, result: dict[str, Any]) -> None:
        """Store the result of step ``name`` once its events are stored."""
        ...

    async def peek(self, name: str) -> dict[str, Any] | None:
        """The stored result of a side effect inside a step (its events are emitted again and
        matched): ``done`` without passing over any event."""
        ...


@dataclass
class AgentDeps:
    """What the pipeline may reach, already scoped to the run's organisation."""

    load_records: Callable[[datetime | None, datetime | None, int], Awaitable[list[UsageRecord]]]
    save_report: Callable[[dict[str, Any]], Awaitable[str]]  # -> report id
    save_assistant_message: Callable[[str, dict[str, Any]], Awaitable[str]]  # text, meta -> id
    steps: StepStore | None = None  # None: nothing is resumable (tests, local analysis)
    # The thread's earlier messages, oldest first (none: every message starts afresh).
    load_history: Callable[[], Awaitable[list[Turn]]] | None = None
    # Create a budget as the run's user: (scope, period, limit_usd) -> the budget as the API
    # shows it. Raises Forbidden without the permission (checked again by the service).
    create_budget: Callable[[str, str, float], Awaitable[dict[str, Any]]] | None = None


@dataclass
class RunResult:
    status: str  # "succeeded" | "failed" | "cancelled"
    message_id: str | None = None
    text: str | None = None
    report_id: str | None = None
    error: dict[str, str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class Pipeline(Protocol):
    async def __call__(self, request: RunRequest, sink: EventSink, deps: AgentDeps) -> RunResult:
        """Run the agents; emit every event including the supervisor's first and last."""
        ...


RecordLoader = Callable[[str, datetime | None, datetime | None, int], Awaitable[list[UsageRecord]]]
# (org_id, report, run_id) -> report id; the same run's report is stored once, however many
# times its step is executed (a worker that dies after the write and before its journal entry).
ReportStore = Callable[[str, dict[str, Any], str], Awaitable[str]]

# What the pipeline's process is lent (core/services.py): the pipeline (set by the agents
# component), the org's records (org_id, start, end, limit) and a report store (-> report id).
PIPELINE: Service[Pipeline] = Service("agent_pipeline")
RECORD_LOADER: Service[RecordLoader] = Service("usage_record_loader")
REPORT_STORE: Service[ReportStore] = Service("report_store")
