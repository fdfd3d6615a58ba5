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
        """Store then publish one run event; returns its ``seq``."""
        ...

    async def cancelled(self) -> bool:
        """Whether the user asked to cancel (checked between tool calls)."""
        ...


@dataclass
class AgentDeps:
    """What the pipeline may reach, already scoped to the run's organisation."""

    load_records: Callable[[datetime | None, datetime | None, int], Awaitable[list[UsageRecord]]]
    save_report: Callable[[dict[str, Any]], Awaitable[str]]  # -> report id
    save_assistant_message: Callable[[str, dict[str, Any]], Awaitable[str]]  # text, meta -> id
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. the LLM provider
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


# Keys in ``Runtime.extras`` through which components hand each other their services.
PIPELINE = "agent_pipeline"  # Pipeline, set by the agents component (default: placeholder)
RECORD_LOADER = "usage_record_loader"  # async (org_id, start, end, limit) -> list[UsageRecord]
REPORT_STORE = "report_store"  # async (org_id, report: dict) -> report id
