"""The conversation's part of each sub-agent: reading the thread's memory and resolving the
message in triage, comparing in data, acting in actions. Called from ``agents.subagents``;
each step is a tool call with its ``tool_executing`` / ``tool_completed`` events."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from netra.agents.conversation import actions
from netra.agents.conversation.followup import Followup, Kind, Names, resolve
from netra.agents.conversation.memory import Memory, memory_of
from netra.agents.events import RunEmitter
from netra.agents.money import usd
from netra.agents.triage import FOLLOWUP_ONLY, Classification, Intent, Sufficiency, coverage_of

if TYPE_CHECKING:
    from netra.agents.subagents import RunState

INTENT_OF: dict[Kind, Intent] = {
    Kind.EXPLAIN_FINDING: Intent.EXPLAIN_FINDING,
    Kind.WHAT_IF: Intent.WHAT_IF,
    Kind.CREATE_BUDGET: Intent.CREATE_BUDGET,
    Kind.COMPARE: Intent.COMPARE,
    Kind.EXPLAIN_NUMBER: Intent.EXPLAIN_NUMBER,
}
# Follow-ups answered from what an earlier turn showed: no new analysis needed.
FROM_MEMORY = (Kind.EXPLAIN_FINDING, Kind.WHAT_IF, Kind.EXPLAIN_NUMBER, Kind.CREATE_BUDGET)


async def read_memory(st: RunState, em: RunEmitter, agent: str) -> Memory:
    """The thread's earlier turns, as a tool call (only in a thread that has some)."""
    load = st.deps.load_history
    if load is None or not st.profile.allows_tool("thread_memory"):
        return Memory()
    turns = await load()
    if not any(t.role == "assistant" for t in turns):
        return Memory()
    memory = memory_of(turns)
    await em.tool(
        agent,
        "thread_memory",
        {"turns": len(turns)},
        _value(memory),
        lambda m: {
            "answered_turns": m.turns,
            "intent": m.intent,
            "focus": m.focus,
            "period": m.period.as_dict() if m.period else None,
            "findings": [f.get("title") for f in m.findings],
            "referenced": [i + 1 for i in m.referenced],
        },
    )
    return memory


def followup_of(st: RunState) -> Followup:
    cov = st.coverage
    names = Names(cov.features, cov.models, cov.providers, cov.last)
    return resolve(st.request.text, st.memory, names)


def intent_for(fu: Followup, first: Classification) -> Intent:
    """The intent a follow-up asks for; a new question keeps the rules' verdict."""
    if fu.kind is None:
        return first.intent
    if fu.kind is Kind.NARROW:
        try:
            carried = Intent(fu.carried_intent or "")
        except ValueError:
            carried = Intent.SPEND_OVERVIEW
        if carried in FOLLOWUP_ONLY or carried is Intent.OUT_OF_SCOPE:
            return Intent.REDUCE_COST if carried is Intent.WHAT_IF else Intent.SPEND_OVERVIEW
        return carried
    return INTENT_OF[fu.kind]


async def narrow(st: RunState, em: RunEmitter, agent: str) -> None:
    """Keep only the records of the asked-about scope (feature, model, provider, period)."""
    fu = st.followup
    if fu.kind in FROM_MEMORY or fu.kind is Kind.COMPARE:
        return
    focus, period = dict(fu.focus), fu.period
    if not focus and period is None:
        return
    if not st.profile.allows_tool("narrow_scope"):
        return
    args: dict[str, Any] = {**focus}
    if period is not None:
        args.update({"start": actions.iso(period.start), "end": actions.iso(period.end)})
    st.all_records = st.records
    scoped = await em.tool(
        agent,
        "narrow_scope",
        args,
        _value(actions.in_scope(st.records, focus, period)),
        lambda rs: {"records": len(rs), "scope": actions.scope_words(focus, period)},
    )
    st.records = scoped
    st.scope_period = period
    st.coverage = coverage_of(scoped, limit=st.profile.max_records)
    if not scoped:
        st.sufficiency = Sufficiency.INSUFFICIENT
        stamps = [r.timestamp for r in st.all_records]
        st.sufficiency_reason = (
            f"no usage of {actions.scope_words(focus, period)} is stored (the data runs from "
            f"{_day(min(stamps, default=None))} to {_day(max(stamps, default=None))})"
        )


def _day(value: Any) -> str:
    return value.date().isoformat() if value is not None else "?"


def agents_for(st: RunState) -> tuple[str, ...] | None:
    """The sub-agents a follow-up needs, or None for the intent's usual ones."""
    kind = st.followup.kind
    if kind in FROM_MEMORY and (st.memory.findings or kind in (Kind.CREATE_BUDGET,
                                                               Kind.EXPLAIN_NUMBER)):  # fmt: skip
        return ("actions", "reporting")
    return None


async def run_compare(st: RunState, em: RunEmitter, agent: str) -> None:
    fu = st.followup
    if not st.profile.allows_tool("compare"):
        return
    args = {f"side_{i + 1}": _side_args(side) for i, side in enumerate(fu.sides)}
    st.actions["compare"] = await em.tool(
        agent,
        "compare",
        args,
        lambda: actions.compare(st.engine, st.records, fu.sides),
        lambda r: r,
    )
    a, b = st.actions["compare"]["sides"]
    await em.thinking(
        agent,
        f"{a['label']}: {usd(a['cost_usd'])} for {a['calls']:,} calls; {b['label']}: "
        f"{usd(b['cost_usd'])} for {b['calls']:,} calls.",
        1.0,
    )


def _side_args(side: dict[str, object]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in side.items():
        if key == "period" and hasattr(value, "as_dict"):
            out["period"] = value.as_dict()
        else:
            out[key] = value
    return out


async def run_followup_actions(st: RunState, em: RunEmitter, agent: str) -> bool:
    """The action a follow-up asks for; False when the message asks for none."""
    fu, findings = st.followup, list(st.memory.findings)
    kind = fu.kind
    if kind is Kind.WHAT_IF and findings and st.profile.allows_tool("estimate_savings"):
        result = await em.tool(
            agent,
            "estimate_savings",
            {"findings": [i + 1 for i in fu.refs]},
            _value(actions.estimate_savings(findings, fu.refs)),
        )
        st.actions["estimate_savings"] = result
        st.referenced = fu.refs
        await em.thinking(agent, f"Together: {usd(result['savings_usd'])} a period.", 1.0)
        return True
    if kind is Kind.EXPLAIN_FINDING and findings and st.profile.allows_tool("explain_finding"):
        st.actions["explain_finding"] = await em.tool(
            agent,
            "explain_finding",
            {"findings": [i + 1 for i in fu.refs]},
            _value(actions.explain_finding(findings, fu.refs)),
            lambda r: {
                "findings": [{"index": f["index"], "title": f["title"]} for f in r["findings"]]
            },
        )
        st.referenced = fu.refs
        return True
    if kind is Kind.EXPLAIN_NUMBER and st.profile.allows_tool("explain_number"):
        finding = findings[fu.refs[0]] if fu.refs and findings else None
        st.actions["explain_number"] = await em.tool(
            agent,
            "explain_number",
            {"finding": fu.refs[0] + 1 if finding else None, **fu.focus},
            lambda: actions.explain_number(st.engine, st.records, fu.focus, fu.period, finding),
        )
        st.referenced = fu.refs[:1]
        return True
    if kind is Kind.CREATE_BUDGET and st.profile.allows_tool("create_budget"):
        await _create_budget(st, em, agent, findings)
        return True
    return False


async def _create_budget(
    st: RunState, em: RunEmitter, agent: str, findings: list[dict[str, Any]]
) -> None:
    fu = st.followup
    finding = findings[fu.refs[0]] if fu.refs and findings else None
    scope = actions.budget_scope(fu.focus, finding)
    limit = fu.amount_usd
    if limit is None:
        kind, _, name = scope.partition(":")
        focus = {kind: name} if name else {}
        pace = await actions.totals(st.engine, actions.in_scope(st.records, focus, None))
        limit = actions.budget_limit(float(pace.get("monthly_run_rate_usd") or 0.0),
                                     fu.budget_period)  # fmt: skip
        basis = f"the current pace of {scope} ({usd(pace.get('monthly_run_rate_usd') or 0)}/month)"
    else:
        basis = "the amount you asked for"
    args = {"scope": scope, "period": fu.budget_period, "limit_usd": limit}
    call_id = await em.tool_begin(agent, "create_budget", args)
    create = st.deps.create_budget
    if create is None or not st.request.context.can(actions.BUDGET_PERMISSION):
        reason = "your role may not create budgets (ask an owner or admin)"
        await em.tool_end(call_id, "error", {"error": reason})
        st.actions["create_budget"] = {"created": False, "reason": reason, **args, "basis": basis}
        return
    try:
        budget = await create(scope, fu.budget_period, limit)
    except Exception as exc:  # a conflict or a tier limit: say it, do not fail the run
        reason = getattr(exc, "message", None) or str(exc)
        await em.tool_end(call_id, "error", {"error": reason})
        st.actions["create_budget"] = {"created": False, "reason": reason, **args, "basis": basis}
        return
    await em.tool_end(call_id, "ok", budget)
    st.actions["create_budget"] = {"created": True, "budget": budget, **args, "basis": basis}
    st.budget_scope = scope
    st.referenced = fu.refs[:1]


def _value(value: Any) -> Any:
    async def get() -> Any:
        return value

    return get


def with_followup_focus(c: Classification, fu: Followup) -> Classification:
    focus = dict(fu.focus) if fu.kind is not None or fu.focus else dict(c.focus)
    return replace(c, focus=focus or dict(c.focus))
