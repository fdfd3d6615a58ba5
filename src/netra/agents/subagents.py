"""The five sub-agents. Each emits its own lifecycle, thoughts and tool calls via the emitter.

They share one :class:`RunState` for the run (never across runs): what triage decided, the
loaded records, the engine's tables and report, the ranked findings and the plan.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field, replace
from functools import partial, wraps
from typing import Any, TypeVar

from netra.agents.contract import AgentDeps, RunRequest
from netra.agents.conversation import steps as conversation
from netra.agents.conversation.followup import Followup
from netra.agents.conversation.memory import Memory, Period
from netra.agents.engine import Detector, Engine, detector_tool, jsonable
from netra.agents.events import RunEmitter, ToolFailed
from netra.agents.factory import TierProfile
from netra.agents.llm.base import AnswerBrief
from netra.agents.llm.resilient import ResilientWriter
from netra.agents.money import usd
from netra.agents.playbook import ActionStep, plan_actions, where
from netra.agents.triage import (
    Classification,
    Coverage,
    Intent,
    Sufficiency,
    classify,
    coverage_of,
    sufficiency,
)
from netra.records.record import UsageRecord

T = TypeVar("T")

# Which sub-agents answer each intent (after triage); filtered by the tier's profile.
AGENTS_BY_INTENT: dict[Intent, tuple[str, ...]] = {
    Intent.SPEND_OVERVIEW: ("data", "optimizer", "reporting"),
    Intent.REDUCE_COST: ("data", "optimizer", "actions", "reporting"),
    Intent.COMPARE: ("data", "optimizer", "reporting"),
    Intent.EXPLAIN_FINDING: ("optimizer", "actions", "reporting"),
    Intent.BUDGET: ("data", "optimizer", "reporting"),
    Intent.OUT_OF_SCOPE: ("reporting",),
    Intent.WHAT_IF: ("actions", "reporting"),
    Intent.EXPLAIN_NUMBER: ("actions", "reporting"),
    Intent.CREATE_BUDGET: ("actions", "reporting"),
}


@dataclass
class RunState:
    request: RunRequest
    deps: AgentDeps
    profile: TierProfile
    engine: Engine
    writer: ResilientWriter
    classification: Classification | None = None
    records: list[UsageRecord] = field(default_factory=list)
    coverage: Coverage = field(default_factory=lambda: coverage_of([]))
    sufficiency: Sufficiency = Sufficiency.INSUFFICIENT
    sufficiency_reason: str = "the data was not checked"
    frame: Any = None
    top_spenders: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    breakdowns: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    trend: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    plan: list[ActionStep] = field(default_factory=list)
    report_id: str | None = None
    text: str = ""  # the answer, once reporting has worded it
    writer_meta: dict[str, Any] = field(default_factory=dict)
    classifier_meta: dict[str, Any] = field(default_factory=dict)
    # The conversation: the thread's memory, what this message asks of it, and what was done.
    memory: Memory = field(default_factory=Memory)
    followup: Followup = field(default_factory=lambda: Followup(None))
    all_records: list[UsageRecord] = field(default_factory=list)  # before narrowing
    scope_period: Period | None = None
    actions: dict[str, Any] = field(default_factory=dict)  # tool results for the answer
    referenced: tuple[int, ...] = ()  # which findings this turn was about
    budget_scope: str | None = None
    # With a language model driving the tools (``agents.assistant``): its answer and its calls.
    llm_text: str | None = None
    llm_usage: Any = None
    llm_outcome: str | None = None
    llm_rejected: list[str] = field(default_factory=list)  # figures no tool produced

    @property
    def intent(self) -> Intent:
        return self.classification.intent if self.classification else Intent.OUT_OF_SCOPE

    def next_agents(self) -> tuple[str, ...]:
        if self.intent is Intent.OUT_OF_SCOPE or self.sufficiency is Sufficiency.INSUFFICIENT:
            chosen: tuple[str, ...] = ("reporting",)
        else:
            chosen = conversation.agents_for(self) or AGENTS_BY_INTENT[self.intent]
        return tuple(a for a in chosen if self.profile.allows_agent(a))

    async def get_frame(self) -> Any:
        if self.frame is None:
            self.frame = await asyncio.to_thread(self.engine.frame, self.records)
        return self.frame


def _table_thought(st: RunState, tool: str, args: dict[str, Any]) -> str:
    """One line on what a table showed, for the live view (figures copied from the rows)."""
    by = str(args.get("by", "day"))
    rows = (
        st.trend
        if tool == "usage_trend"
        else (st.top_spenders.get(by) if tool == "top_spenders" else st.breakdowns.get(by)) or []
    )
    if not rows:
        return f"No {by} data in this period."
    if tool == "usage_trend":
        return f"Spend over {len(rows)} {args.get('period', 'day')}s collected."
    top = rows[0]
    cost = top.get("cost_usd")
    amount = f" at {usd(cost)}" if isinstance(cost, int | float) else ""
    share = top.get("share_pct")
    pct_words = f" ({share:g}% of spend)" if isinstance(share, int | float) else ""
    name = top.get("key") if top.get("key") not in (None, "") else "(none)"
    return f"By {by}: {name} leads{amount}{pct_words}; {len(rows)} groups."


def _rows_summary(rows: list[dict[str, Any]], n: int) -> dict[str, Any]:
    return {"rows": rows[:n], "total_rows": len(rows)}


async def run_triage(st: RunState, em: RunEmitter) -> None:
    agent = "triage"
    await em.started(agent)
    await em.thinking(agent, "Reading the request to decide what kind of answer it needs.", 0.1)
    st.memory = await conversation.read_memory(st, em, agent)
    first = classify(st.request.text)
    if first.intent is Intent.OUT_OF_SCOPE and st.memory.empty and st.writer.can_classify:
        first = await _ask_the_llm(st, em, agent, first)
    if first.intent is Intent.OUT_OF_SCOPE and st.memory.empty:
        st.classification = first
        await em.thinking(agent, "This is not about AI spend; a short answer will do.", 1.0)
        await em.completed(agent, result={"intent": first.intent.value, "scores": first.scores})
        return
    limit = st.profile.max_records

    async def load() -> list[UsageRecord]:
        return await st.deps.load_records(None, None, limit)

    st.records = await em.tool(
        agent,
        "usage_coverage",
        {"max_records": limit},
        load,
        lambda recs: coverage_of(recs, limit=limit).as_dict(),
    )
    st.coverage = coverage_of(st.records, limit=limit)
    named = classify(
        st.request.text,
        features=st.coverage.features,
        models=st.coverage.models,
        providers=st.coverage.providers,
    )
    # A follow-up's intent from the thread; else the rules' (or the language model's) verdict.
    st.followup = conversation.followup_of(st)
    intent = conversation.intent_for(st.followup, first)
    st.classification = conversation.with_followup_focus(replace(named, intent=intent), st.followup)
    st.sufficiency, st.sufficiency_reason = sufficiency(st.coverage)
    if intent is not Intent.OUT_OF_SCOPE:
        await conversation.narrow(st, em, agent)
    c = st.classification
    focus = f", about {', '.join(f'{k} {v}' for k, v in c.focus.items())}" if c.focus else ""
    await em.thinking(
        agent,
        f"Request: {c.intent.value.replace('_', ' ')}{focus}. Data: {st.sufficiency.value} "
        f"({st.sufficiency_reason}).",
        1.0,
    )
    await em.completed(
        agent,
        result={
            "intent": c.intent.value,
            "sufficiency": st.sufficiency.value,
            "reason": st.sufficiency_reason,
            "focus": c.focus,
            "finding_kinds": list(c.finding_kinds),
            "followup": st.followup.kind.value if st.followup.kind else None,
            "references": [i + 1 for i in st.followup.refs],
        },
    )


async def _ask_the_llm(
    st: RunState, em: RunEmitter, agent: str, first: Classification
) -> Classification:
    """Free text the rules could not place: the language model picks an intent (or none)."""
    await em.thinking(agent, "No spend topic recognised; asking the language model.", 0.3)
    labels = [i.value for i in Intent]
    steps = st.deps.steps

    async def ask() -> tuple[str | None, dict[str, Any]]:
        # Journaled: a run executed again after its worker died keeps the first verdict (a
        # second one could differ, and with it the plan and the events already sent).
        kept = await steps.peek("llm_classification") if steps is not None else None
        if kept is not None:
            return kept["label"], dict(kept["meta"])
        verdict, meta = await st.writer.classify(st.request.text, labels)
        if steps is not None:
            await steps.record("llm_classification", {"label": verdict, "meta": meta})
        return verdict, meta

    label, st.classifier_meta = await em.tool(
        agent,
        "classify_request",
        {"labels": labels},
        ask,
        lambda r: {"intent": r[0], **r[1]},
    )
    if label is None or label == Intent.OUT_OF_SCOPE.value:
        return first
    return replace(first, intent=Intent(label))


async def run_data(st: RunState, em: RunEmitter) -> None:
    agent = "data"
    await em.started(agent)
    await em.thinking(agent, f"Breaking down the spend of {st.coverage.records:,} calls.", 0.1)
    frame = await st.get_frame()
    n = st.profile.top_n
    intent = st.intent
    calls: list[tuple[str, dict[str, Any]]] = [
        ("top_spenders", {"by": "feature", "n": n}),
        ("top_spenders", {"by": "model", "n": n}),
    ]
    if intent is Intent.COMPARE:
        calls.append(("spend_breakdown", {"by": "provider"}))
        calls.append(("spend_breakdown", {"by": "model"}))
    if intent in (Intent.SPEND_OVERVIEW, Intent.BUDGET):
        calls.append(("usage_trend", {"period": "day"}))
    calls = [c for c in calls if st.profile.allows_tool(c[0])]
    if st.followup.sides:  # two scopes side by side first, then the usual tables
        await conversation.run_compare(st, em, agent)
    for i, (tool, args) in enumerate(calls, 1):
        if tool == "top_spenders":
            by, top = str(args["by"]), int(args["n"])
            rows = await em.tool(
                agent,
                tool,
                args,
                partial(asyncio.to_thread, st.engine.top_spenders, frame, by, top),
                lambda r: _rows_summary(r, n),
            )
            st.top_spenders[by] = rows
        elif tool == "spend_breakdown":
            by = str(args["by"])
            rows = await em.tool(
                agent,
                tool,
                args,
                partial(asyncio.to_thread, st.engine.spend_breakdown, frame, by),
                lambda r: _rows_summary(r, 20),
            )
            st.breakdowns[by] = rows
        else:
            st.trend = await em.tool(
                agent,
                tool,
                args,
                lambda: asyncio.to_thread(st.engine.usage_trend, frame, "day"),
                lambda r: _rows_summary(r, 60),
            )
        await em.thinking(agent, _table_thought(st, tool, args), i / len(calls))
    await em.completed(agent, result={"tables": [f"{t}:{a.get('by', 'day')}" for t, a in calls]})


async def run_optimizer(st: RunState, em: RunEmitter) -> None:
    agent = "optimizer"
    await em.started(agent)
    frame = await st.get_frame()
    loop = asyncio.get_running_loop()
    detectors = [_traced(d, em, loop, agent) for d in st.engine.detectors()]
    await em.thinking(
        agent, f"Running {len(detectors)} waste detectors on {st.coverage.records:,} calls.", 0.1
    )
    report = await asyncio.to_thread(st.engine.analyze, frame, None, None, detectors)
    st.report = report

    async def rank() -> list[dict[str, Any]]:
        found = list(report.get("findings") or [])
        return sorted(found, key=lambda f: float(f.get("savings_usd") or 0), reverse=True)

    st.findings = await em.tool(
        agent,
        "rank_findings",
        {"by": "savings_usd"},
        rank,
        lambda fs: [
            {
                "kind": f.get("kind"),
                "scope": f.get("scope"),
                "savings_usd": f.get("savings_usd"),
                "confidence": f.get("confidence"),
            }
            for f in fs[:10]
        ],
    )
    if st.findings:
        top = st.findings[0]
        thought = (
            f"{len(st.findings)} findings; projected net savings "
            f"{usd(report.get('projected_savings_usd') or 0)}. Largest: {top.get('title')} "
            f"({where(top)}), {usd(top.get('savings_usd') or 0)}."
        )
    else:
        thought = "No waste detected in this period."
    await em.thinking(agent, thought, 1.0)
    await em.completed(
        agent,
        result={
            "findings": len(st.findings),
            "projected_savings_usd": report.get("projected_savings_usd"),
        },
    )


async def run_actions(st: RunState, em: RunEmitter) -> None:
    agent = "actions"
    await em.started(agent)
    if await conversation.run_followup_actions(st, em, agent):
        await em.completed(agent, result={"actions": sorted(st.actions)})
        return
    await em.thinking(agent, "Turning the top findings into an ordered plan.", 0.1)
    focus = st.classification.focus if st.classification else {}
    findings = st.findings
    if focus:  # the asked-about scope first, the rest after
        inside = [
            f for f in findings if any((f.get("scope") or {}).get(k) == v for k, v in focus.items())
        ]
        findings = inside + [f for f in findings if f not in inside]
    max_steps = st.profile.max_plan_steps

    async def plan() -> list[ActionStep]:
        return plan_actions(findings, max_steps)

    st.plan = await em.tool(
        agent,
        "plan_actions",
        {"max_steps": max_steps},
        plan,
        lambda steps: [s.as_dict() for s in steps],
    )
    for step in st.plan:
        await em.thinking(
            agent,
            f"Step {step.order}: {step.change} ({usd(step.expected_savings_usd)}, risk "
            f"{step.risk}).",
            step.order / max(1, len(st.plan)),
        )
    await em.completed(agent, result={"steps": len(st.plan)})


def _traced(
    detector: Detector, em: RunEmitter, loop: asyncio.AbstractEventLoop, agent: str
) -> Detector:
    """``detector`` as a tool call: runs in the engine's thread, emits through the loop."""
    tool = detector_tool(detector)

    def on_loop(coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)

    @wraps(detector)
    def run(ctx: Any) -> list[Any]:
        call_id = on_loop(em.tool_begin(agent, tool, {}))
        try:
            found = detector(ctx)
        except Exception as exc:
            on_loop(em.tool_end(call_id, "error", {"error": f"{type(exc).__name__}: {exc}"}))
            raise ToolFailed(tool, exc) from exc
        summary = [
            {
                "kind": getattr(c, "kind", None),
                "title": getattr(c, "title", None),
                "scope": jsonable(getattr(c, "scope", {})),
                "confidence": getattr(c, "confidence", None),
            }
            for c in found[:5]
        ]
        on_loop(em.tool_end(call_id, "ok", {"candidates": len(found), "top": summary}))
        return found

    return run


def brief_of(st: RunState) -> AnswerBrief:
    c = st.classification
    return AnswerBrief(
        question=st.request.text,
        intent=st.intent.value,
        sufficiency=st.sufficiency.value,
        sufficiency_reason=st.sufficiency_reason,
        coverage=st.coverage.as_dict(),
        focus=dict(c.focus) if c else {},
        finding_kinds=c.finding_kinds if c else (),
        report=st.report,
        top_spenders=st.top_spenders,
        breakdowns=st.breakdowns,
        trend=st.trend,
        findings=st.findings,
        plan=[s.as_dict() for s in st.plan],
        report_id=st.report_id,
        tier=st.profile.tier,
        max_records=st.profile.max_records,
        followup=st.followup.kind.value if st.followup.kind else None,
        actions=st.actions,
        remembered=list(st.memory.findings),
        references=[i + 1 for i in st.referenced],
        period=st.scope_period.as_dict() if st.scope_period else None,
    )


async def run_reporting(st: RunState, em: RunEmitter) -> str:
    """Store the report, word the answer; returns the answer's text."""
    agent = "reporting"
    await em.started(agent)
    if st.report is not None and st.sufficiency is not Sufficiency.INSUFFICIENT:
        report = st.report
        steps = st.deps.steps
        saved = await steps.peek("report_saved") if steps is not None else None

        async def save() -> str:
            if saved is not None:  # stored by a worker that died after it: not stored twice
                return str(saved["report_id"])
            report_id = await st.deps.save_report(report)
            if steps is not None:  # journaled before its tool_completed is emitted
                await steps.record("report_saved", {"report_id": report_id})
            return report_id

        st.report_id = await em.tool(
            agent,
            "save_report",
            {"records": report.get("records"), "findings": len(report.get("findings") or [])},
            save,
            lambda rid: {"report_id": rid},
        )
    await em.thinking(agent, "Writing the answer from the engine's figures.", 0.5)
    await em.check_cancelled()
    if st.llm_usage is not None:
        from netra.agents.assistant import checked_answer

        text, st.writer_meta = await checked_answer(st, brief_of(st))
    else:
        text, st.writer_meta = await st.writer.write(brief_of(st))
    if st.writer_meta.get("degraded"):
        await em.thinking(
            agent,
            f"The language model was unavailable ({st.writer_meta['degraded_reason']}); "
            "answered with the offline writer.",
            0.9,
        )
    st.text = text
    await em.completed(
        agent, result={"report_id": st.report_id, "writer": st.writer_meta.get("writer")}
    )
    return text
