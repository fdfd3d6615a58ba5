"""Fakes for agent pipeline tests: a recording event sink, in-memory deps, a hand-built engine,
and a checker of PROTOCOL.md's per-run ordering guarantees."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from netra.agents.contract import AgentDeps, RunRequest
from netra.core.context import UserContext
from netra.records.record import UsageRecord

RUN_EVENT_FIELDS = {
    "agent_started": ({"agent"}, set()),
    "agent_thinking": ({"agent", "thought"}, {"progress"}),
    "tool_executing": ({"agent", "tool", "tool_call_id", "args"}, set()),
    "tool_completed": (
        {"agent", "tool", "tool_call_id", "status", "duration_ms", "result"},
        set(),
    ),
    "agent_completed": ({"agent", "status"}, {"result", "error"}),
}


class RecordingSink:
    """Stores events in order; cancels once ``cancel_after_tools`` tool calls completed."""

    def __init__(self, cancel_after_tools: int | None = None) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.cancel_after_tools = cancel_after_tools
        self.cancel_checks = 0

    async def emit(self, type: str, payload: dict[str, Any]) -> int:
        self.events.append((type, payload))
        return len(self.events)

    async def cancelled(self) -> bool:
        self.cancel_checks += 1
        if self.cancel_after_tools is None:
            return False
        done = sum(1 for t, _ in self.events if t == "tool_completed")
        return done >= self.cancel_after_tools

    def of(self, type: str) -> list[dict[str, Any]]:
        return [p for t, p in self.events if t == type]

    def agents_run(self) -> list[str]:
        return [p["agent"] for p in self.of("agent_started")]

    def tools_run(self) -> list[str]:
        return [p["tool"] for p in self.of("tool_executing")]


@dataclass
class MemoryDeps:
    records: list[UsageRecord]
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    load_calls: list[tuple[Any, Any, int]] = field(default_factory=list)

    async def load(self, start: Any, end: Any, limit: int) -> list[UsageRecord]:
        self.load_calls.append((start, end, limit))
        return self.records[:limit]

    async def save_report(self, report: dict[str, Any]) -> str:
        rid = f"rep_{len(self.reports) + 1}"
        self.reports[rid] = report
        return rid

    async def save_message(self, text: str, meta: dict[str, Any]) -> str:
        mid = f"msg_{len(self.messages) + 1}"
        self.messages[mid] = (text, meta)
        return mid

    def deps(self) -> AgentDeps:
        return AgentDeps(self.load, self.save_report, self.save_message)


def request(text: str, tier: str = "free") -> RunRequest:
    ctx = UserContext(user_id="u1", org_id="o1", tier=tier, role="owner", run_id="run1")
    return RunRequest(context=ctx, run_id="run1", thread_id="t1", message_id="m1", text=text)


def records(n: int, days: float = 14.0) -> list[UsageRecord]:
    start = datetime(2025, 3, 1, tzinfo=UTC)
    step = timedelta(days=days) / max(1, n - 1)
    features = ("support-chat", "search", "summaries")
    models = ("gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5")
    return [
        UsageRecord(
            timestamp=start + step * i,
            provider="anthropic" if i % 3 == 2 else "openai",
            model=models[i % 3],
            input_tokens=1000 + i,
            output_tokens=200,
            feature=features[i % 3],
        )
        for i in range(n)
    ]


# A report in API.md's shape, figures chosen by hand (the fake engine returns it).
REPORT: dict[str, Any] = {
    "period": {"start": "2025-03-01T00:00:00Z", "end": "2025-03-15T00:00:00Z"},
    "records": 600,
    "priced_records": 590,
    "unpriced": [{"provider": "acme", "model": "acme-1", "records": 10}],
    "total_cost_usd": 12345.678912,
    "breakdown": {"by_model": [], "by_provider": [], "by_feature": [], "by_day": []},
    "findings": [
        {
            "kind": "response_caching",
            "title": "Identical prompts answered again in search",
            "detail": "A third of search's prompts repeat within an hour.",
            "scope": {"feature": "search", "provider": "openai", "model": "gpt-4o-mini"},
            "affected_records": 120,
            "current_cost_usd": 900.5,
            "projected_cost_usd": 600.25,
            "savings_usd": 300.25,
            "confidence": "high",
            "evidence": {"repeat_rate": 0.33, "distinct_prompts": 80},
        },
        {
            "kind": "model_rightsizing",
            "title": "support-chat can run on a smaller model",
            "detail": "Short prompts and answers fit gpt-4o-mini.",
            "scope": {"feature": "support-chat", "provider": "openai", "model": "gpt-4o"},
            "affected_records": 200,
            "current_cost_usd": 5000.0,
            "projected_cost_usd": 1765.43,
            "savings_usd": 3234.57,
            "confidence": "medium",
            "evidence": {"suggested_model": "gpt-4o-mini", "avg_output_tokens": 180},
        },
        {
            "kind": "retry_waste",
            "title": "Retry storm in summaries",
            "detail": "Timeouts retried up to 6 times.",
            "scope": {
                "feature": "summaries",
                "provider": "anthropic",
                "model": "claude-sonnet-4-5",
            },
            "affected_records": 40,
            "current_cost_usd": 250.0,
            "projected_cost_usd": 25.0,
            "savings_usd": 225.0,
            "confidence": "high",
            "evidence": {"failure_rate": 0.2},
        },
    ],
    "projected_savings_usd": 3700.11,
    "projected_savings_pct": 29.97,
    "forecast": {"monthly_run_rate_usd": 26454.88},
}

FEATURE_ROWS = [
    {"key": "support-chat", "records": 200, "cost_usd": 7000.0, "share_pct": 56.7},
    {"key": "search", "records": 200, "cost_usd": 4000.0, "share_pct": 32.4},
    {"key": "summaries", "records": 200, "cost_usd": 1345.678912, "share_pct": 10.9},
]
MODEL_ROWS = [
    {"key": "gpt-4o", "provider": "openai", "records": 200, "cost_usd": 8000.0, "share_pct": 64.8},
    {"key": "claude-sonnet-4-5", "provider": "anthropic", "records": 200, "cost_usd": 3000.0},
    {"key": "gpt-4o-mini", "provider": "openai", "records": 200, "cost_usd": 1345.678912},
]
PROVIDER_ROWS = [
    {"key": "openai", "records": 400, "cost_usd": 9345.678912, "share_pct": 75.7},
    {"key": "anthropic", "records": 200, "cost_usd": 3000.0, "share_pct": 24.3},
]
DAY_ROWS = [
    {"key": "2025-03-01T00:00:00+00:00", "records": 50, "cost_usd": 700.0},
    {"key": "2025-03-02T00:00:00+00:00", "records": 60, "cost_usd": 1500.5},
    {"key": "2025-03-03T00:00:00+00:00", "records": 40, "cost_usd": 650.25},
]


def _retry(ctx: Any) -> list[Any]:
    return [object()]


def _caching(ctx: Any) -> list[Any]:
    return []


_retry.__module__ = "netra.analysis.detectors.retry"
_caching.__module__ = "netra.analysis.detectors.response_caching"


class FakeEngine:
    """The engine's interface with hand-built answers; ``slow_s`` stalls ``analyze``."""

    def __init__(
        self,
        report: dict[str, Any] | None = None,
        *,
        fail_in: str | None = None,
        on_analyze: Callable[[], None] | None = None,
    ) -> None:
        self.report = report if report is not None else REPORT
        self.fail_in = fail_in
        self.on_analyze = on_analyze
        self.calls: list[str] = []
        self.analyzed = threading.Event()  # set when analyze returned or raised (its thread)

    def frame(self, recs: Sequence[UsageRecord]) -> Any:
        return list(recs)

    def detectors(self) -> Sequence[Callable[[Any], list[Any]]]:
        return (_retry, _caching)

    def analyze(self, frame: Any, start: Any, end: Any, detectors: Any = None) -> dict[str, Any]:
        self.calls.append("analyze")
        try:
            if self.on_analyze:
                self.on_analyze()
            for detect in detectors or self.detectors():
                detect(None)
            return self.report
        finally:
            self.analyzed.set()

    def _maybe_fail(self, name: str) -> None:
        self.calls.append(name)
        if self.fail_in == name:
            raise RuntimeError(f"{name} broke")

    def spend_breakdown(self, frame: Any, by: str) -> list[dict[str, Any]]:
        self._maybe_fail("spend_breakdown")
        return {"feature": FEATURE_ROWS, "model": MODEL_ROWS, "provider": PROVIDER_ROWS}[by]

    def top_spenders(self, frame: Any, by: str, n: int) -> list[dict[str, Any]]:
        self._maybe_fail("top_spenders")
        return self.spend_breakdown(frame, by)[:n]

    def usage_trend(self, frame: Any, period: str) -> list[dict[str, Any]]:
        self._maybe_fail("usage_trend")
        return DAY_ROWS

    def totals(self, frame: Any) -> dict[str, Any]:
        """Figures of the records themselves (their billed ``cost_usd``)."""
        self._maybe_fail("totals")
        recs: list[UsageRecord] = list(frame)
        stamps = [r.timestamp for r in recs]
        return {
            "records": len(recs),
            "calls": len(recs),
            "input_tokens": sum(r.input_tokens for r in recs),
            "output_tokens": sum(r.output_tokens for r in recs),
            "cost_usd": round(sum(r.cost_usd or 0.0 for r in recs), 2),
            "unpriced_records": sum(1 for r in recs if r.cost_usd is None),
            "first": min(stamps).isoformat() if stamps else None,
            "last": max(stamps).isoformat() if stamps else None,
            "monthly_run_rate_usd": 0.0,
            "failed_records": sum(1 for r in recs if r.status != "ok"),
        }

    def prices(self, provider: str, model: str, at: Any) -> dict[str, float] | None:
        return {"input": 2.5, "cached_input": 1.25, "cache_write": 2.5, "output": 10.0}


def check_protocol(events: list[tuple[str, dict[str, Any]]]) -> None:
    """PROTOCOL.md ordering guarantees 1-3 and the exact payload field names."""
    assert events, "no events"
    assert events[0] == ("agent_started", {"agent": "supervisor"})
    last_type, last = events[-1]
    assert last_type == "agent_completed" and last["agent"] == "supervisor"
    open_agents: list[str] = []
    open_tools: dict[str, str] = {}
    seen_tools: set[str] = set()
    for i, (type, payload) in enumerate(events):
        required, optional = RUN_EVENT_FIELDS[type]
        assert required <= set(payload) <= required | optional, (type, payload)
        agent = payload["agent"]
        if type == "agent_started":
            assert agent not in open_agents
            open_agents.append(agent)
        elif type == "agent_completed":
            assert open_agents and open_agents[-1] == agent, (i, agent, open_agents)
            assert payload["status"] in ("succeeded", "failed", "cancelled")
            open_agents.pop()
            if agent == "supervisor":
                assert i == len(events) - 1, "events after the supervisor completed"
        else:
            assert open_agents and open_agents[-1] == agent, (i, type, agent, open_agents)
        if type == "tool_executing":
            call_id = payload["tool_call_id"]
            assert call_id not in seen_tools, "tool_call_id reused"
            seen_tools.add(call_id)
            open_tools[call_id] = payload["tool"]
        if type == "tool_completed":
            call_id = payload["tool_call_id"]
            assert open_tools.pop(call_id) == payload["tool"]
            assert payload["status"] in ("ok", "error")
            assert isinstance(payload["duration_ms"], int) and payload["duration_ms"] >= 0
        if type == "agent_thinking" and "progress" in payload:
            assert 0.0 <= payload["progress"] <= 1.0
    assert not open_agents and not open_tools
