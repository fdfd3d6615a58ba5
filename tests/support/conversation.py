"""A chat with the real agent pipeline and the real analysis engine, one thread, offline.

``Chat.say`` runs one turn the way the worker does: the thread's earlier messages are its
history, the answer and its metadata are stored for the next turn, and every event is kept.
The expected figures of the tests come from ``netra.analysis`` run directly on the same records
(``report_of``), never from the pipeline's own output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import polars as pl

from netra.agents.contract import AgentDeps, RunRequest
from netra.agents.conversation.memory import Turn
from netra.agents.engine import AnalysisEngine
from netra.agents.llm.offline import OfflineWriter
from netra.agents.llm.resilient import ResilientWriter
from netra.agents.pipeline import AgentPipeline
from netra.analysis.engine import analyze
from netra.analysis.forecast import forecast
from netra.analysis.frame import frame_from_records
from netra.core.context import UserContext
from netra.core.resilience import CircuitBreaker
from netra.core.settings import Settings
from netra.demo.workload import generate
from netra.records.record import FIELDS, UsageRecord
from support.agent_fakes import RecordingSink

ROLE_PERMISSIONS = {
    "owner": frozenset({"usage:read", "usage:write", "analysis:run", "chat:use", "budgets:write"}),
    "member": frozenset({"usage:read", "usage:write", "analysis:run", "chat:use"}),
}


@cache
def demo_records(n: int = 6000, seed: int = 11) -> tuple[UsageRecord, ...]:
    frame, _ = generate(n, seed)
    fields = [f for f in FIELDS if f in frame.columns]
    return tuple(UsageRecord(**{k: row[k] for k in fields}) for row in frame.iter_rows(named=True))


def report_of(records: list[UsageRecord] | tuple[UsageRecord, ...]) -> dict[str, Any]:
    """The engine's report of some records, computed here, independently of the pipeline."""
    return AnalysisEngine().analyze(frame_from_records(list(records)), None, None)


def run_rate(records: list[UsageRecord]) -> float:
    from netra.analysis.breakdowns import ensure_priced

    return float(forecast(ensure_priced(frame_from_records(records)))["monthly_run_rate_usd"])


def only(records: tuple[UsageRecord, ...], **match: Any) -> list[UsageRecord]:
    return [r for r in records if all(getattr(r, k) == v for k, v in match.items())]


def between(records: tuple[UsageRecord, ...], start: datetime, end: datetime) -> list[UsageRecord]:
    return [r for r in records if start <= r.timestamp < end]


def last_days(records: tuple[UsageRecord, ...], days: int) -> list[UsageRecord]:
    newest = max(r.timestamp for r in records)
    end = newest.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return between(records, end - timedelta(days=days), end)


def budget_limit(monthly: float) -> float:
    return max(0.01, math.ceil(monthly * 100) / 100)


@dataclass
class Said:
    """One answered turn: the answer, the tools called and their results, the stored meta."""

    text: str
    tools: list[str]
    results: dict[str, Any]
    errors: dict[str, Any]
    meta: dict[str, Any]
    status: str


@dataclass
class Chat:
    settings: Settings
    records: tuple[UsageRecord, ...] = field(default_factory=demo_records)
    role: str = "owner"
    tier: str = "mid"
    history: list[Turn] = field(default_factory=list)
    budgets: list[tuple[str, str, float]] = field(default_factory=list)
    writer: ResilientWriter | None = None  # default: the offline writer alone
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # the last turn's

    def pipeline(self) -> AgentPipeline:
        writer = self.writer or ResilientWriter(None, OfflineWriter(), CircuitBreaker("llm"))
        return AgentPipeline(self.settings, writer, AnalysisEngine())

    async def say(self, text: str) -> Said:
        ctx = UserContext(
            user_id="u1", org_id="o1", tier=self.tier, role=self.role,
            permissions=ROLE_PERMISSIONS[self.role], run_id=f"run{len(self.history)}",
        )  # fmt: skip
        request = RunRequest(ctx, ctx.run_id or "run", "t1", f"m{len(self.history)}", text)
        saved: dict[str, Any] = {}
        earlier = list(self.history)

        async def load(start: Any, end: Any, limit: int) -> list[UsageRecord]:
            return list(self.records[-limit:])

        async def save_report(report: dict[str, Any]) -> str:
            return f"rep{len(self.history)}"

        async def save_message(answer: str, meta: dict[str, Any]) -> str:
            saved.update(text=answer, meta=meta)
            return f"a{len(self.history)}"

        async def history() -> list[Turn]:
            return earlier

        async def create_budget(scope: str, period: str, limit: float) -> dict[str, Any]:
            self.budgets.append((scope, period, limit))
            return {"id": f"b{len(self.budgets)}", "scope": scope, "period": period,
                    "limit_usd": limit}  # fmt: skip

        deps = AgentDeps(load, save_report, save_message, load_history=history,
                         create_budget=create_budget)  # fmt: skip
        sink = RecordingSink()
        result = await self.pipeline()(request, sink, deps)
        self.events = sink.events
        self.history.append(Turn("user", text))
        if saved:
            self.history.append(Turn("assistant", saved["text"], saved["meta"]))
        done = sink.of("tool_completed")
        return Said(
            text=result.text or "",
            tools=sink.tools_run(),
            results={p["tool"]: p["result"] for p in done if p["status"] == "ok"},
            errors={p["tool"]: p["result"] for p in done if p["status"] == "error"},
            meta=saved.get("meta", {}),
            status=result.status,
        )


def frame_total(records: list[UsageRecord]) -> float:
    return float(report_of(records)["total_cost_usd"])


def frame_of(records: list[UsageRecord]) -> pl.DataFrame:
    return frame_from_records(records)


__all__ = ["Chat", "analyze"]
