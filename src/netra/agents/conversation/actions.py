"""What the agent can do on request in a conversation, each as a tool call with its events:

- ``narrow_scope``: re-run the analysis for a feature, model, provider or period;
- ``compare``: two models, providers, features or periods side by side;
- ``estimate_savings``: what doing some of the findings shown would save;
- ``explain_finding``: the evidence behind a finding shown;
- ``explain_number``: which records and which prices a figure comes from;
- ``create_budget``: a budget from a finding or a scope, with the user's permission.

Every figure comes from the analysis engine (through :class:`netra.agents.engine.Engine`) or
from findings the engine produced in an earlier turn; nothing here invents a number.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from netra.agents.conversation.memory import Period
from netra.records.record import UsageRecord

BUDGET_PERMISSION = "budgets:write"


def in_scope(
    records: Sequence[UsageRecord], focus: dict[str, str], period: Period | None
) -> list[UsageRecord]:
    """The records of a feature/model/provider and period (``end`` exclusive)."""
    start = period.start if period else None
    end = period.end if period else None
    out = []
    for r in records:
        if start is not None and r.timestamp < start:
            continue
        if end is not None and r.timestamp >= end:
            continue
        if any(getattr(r, key) != value for key, value in focus.items()):
            continue
        out.append(r)
    return out


def scope_words(focus: dict[str, str], period: Period | None) -> str:
    parts = [f"{k} {v}" for k, v in focus.items()]
    if period is not None:
        parts.append(period.label)
    return ", ".join(parts) if parts else "all your usage"


async def totals(engine: Any, records: Sequence[UsageRecord]) -> dict[str, Any]:
    """Spend, calls and tokens of some records, priced by the engine."""
    frame = await asyncio.to_thread(engine.frame, records)
    return dict(await asyncio.to_thread(engine.totals, frame))


async def compare(
    engine: Any, records: Sequence[UsageRecord], sides: Sequence[dict[str, object]]
) -> dict[str, Any]:
    """Each side's totals, its cost per call and per thousand tokens, and the difference."""
    out: list[dict[str, Any]] = []
    for side in sides:
        period = side.get("period")
        focus = {k: str(v) for k, v in side.items() if k != "period"}
        chosen = in_scope(records, focus, period if isinstance(period, Period) else None)
        t = await totals(engine, chosen)
        label = scope_words(focus, period if isinstance(period, Period) else None)
        tokens = (t.get("input_tokens") or 0) + (t.get("output_tokens") or 0)
        calls = t.get("calls") or 0
        cost = t.get("cost_usd") or 0.0
        out.append(
            {
                "label": label,
                **t,
                "cost_per_call_usd": _round(cost / calls, 6) if calls else None,
                "cost_per_1k_tokens_usd": _round(1000 * cost / tokens, 6) if tokens else None,
            }
        )
    a, b = out
    diff = None
    if a.get("cost_usd") and b.get("cost_usd") is not None:
        diff = _round(100.0 * (b["cost_usd"] / a["cost_usd"] - 1.0), 1)
    return {"sides": out, "change_pct": diff}


def estimate_savings(findings: Sequence[dict[str, Any]], refs: Sequence[int]) -> dict[str, Any]:
    """What doing the chosen findings would save. Savings of findings on the same traffic (one
    feature and model) overlap: their sum is then an upper bound, capped at that traffic's
    current cost."""
    chosen = [(i, findings[i]) for i in refs if 0 <= i < len(findings)]
    total = 0.0
    by_traffic: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for _, f in chosen:
        scope = f.get("scope") or {}
        by_traffic.setdefault((scope.get("feature"), scope.get("model")), []).append(f)
    overlap = False
    for group in by_traffic.values():
        savings = sum(float(f.get("savings_usd") or 0.0) for f in group)
        if len(group) > 1:
            overlap = True
            current = max(float(f.get("current_cost_usd") or 0.0) for f in group)
            savings = min(savings, current)
        total += savings
    return {
        "findings": [
            {"index": i + 1, "title": f.get("title"), "savings_usd": f.get("savings_usd")}
            for i, f in chosen
        ],
        "savings_usd": _round(total, 2),
        "overlap": overlap,
    }


_EXPLAINED = (
    "kind", "title", "detail", "scope", "savings_usd", "current_cost_usd", "projected_cost_usd",
    "confidence", "affected_records", "evidence",
)  # fmt: skip


def explain_finding(findings: Sequence[dict[str, Any]], refs: Sequence[int]) -> dict[str, Any]:
    chosen = [(i, findings[i]) for i in refs if 0 <= i < len(findings)]
    return {"findings": [{"index": i + 1, **{k: f.get(k) for k in _EXPLAINED}} for i, f in chosen]}


async def explain_number(
    engine: Any,
    records: Sequence[UsageRecord],
    focus: dict[str, str],
    period: Period | None,
    finding: dict[str, Any] | None,
) -> dict[str, Any]:
    """Which records a figure sums and at which catalogue prices they were priced."""
    scope = dict(focus)
    if finding is not None:
        for key in ("feature", "model", "provider"):
            value = (finding.get("scope") or {}).get(key)
            if isinstance(value, str) and value:
                scope[key] = value
    chosen = in_scope(records, scope, period)
    t = await totals(engine, chosen)
    billed = sum(1 for r in chosen if r.cost_usd is not None)
    models = sorted({(r.provider, r.model) for r in chosen})
    at = max((r.timestamp for r in chosen), default=None)
    prices = []
    for provider, model in models[:5]:
        rates = engine.prices(provider, model, at) if at else None
        prices.append({"provider": provider, "model": model, "per_million_tokens": rates})
    return {
        "scope": scope_words(scope, period),
        "finding": finding.get("title") if finding else None,
        "records": t.get("records"),
        "calls": t.get("calls"),
        "first": t.get("first"),
        "last": t.get("last"),
        "cost_usd": t.get("cost_usd"),
        "billed_records": billed,
        "catalogue_priced_records": max(
            0, (t.get("records") or 0) - billed - (t.get("unpriced_records") or 0)
        ),
        "unpriced_records": t.get("unpriced_records"),
        "prices": prices,
        "models": len(models),
    }


def budget_scope(focus: dict[str, str], finding: dict[str, Any] | None) -> str:
    """API.md's budget scopes: ``feature:<f>``, ``model:<m>`` or ``org``."""
    source = dict(focus)
    if finding is not None and not source:
        source = {k: v for k, v in (finding.get("scope") or {}).items() if isinstance(v, str)}
    if source.get("feature"):
        return f"feature:{source['feature']}"
    if source.get("model"):
        return f"model:{source['model']}"
    return "org"


def budget_limit(run_rate_usd: float, period: str) -> float:
    """A limit at the scope's current pace, rounded up to the cent (never zero)."""
    amount = run_rate_usd if period == "month" else run_rate_usd / 30.0
    return max(0.01, math.ceil(amount * 100) / 100)


def _round(value: float, digits: int) -> float:
    return round(float(value), digits)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
