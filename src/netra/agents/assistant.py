"""The assistant agent: with a language model configured (``NETRA_LLM_*``), the model chooses the
tools (OpenAI function calling) over the same deterministic tools the offline path uses.

- The model sees the tools' JSON schemas, the thread's memory and the question; each call it
  makes runs here, as a tool call of agent ``assistant`` with its events, and the result goes
  back to it. The numbers are the engine's: the model only chooses and words.
- It stops at the tier's step and token budgets (``netra.tiers``); past them, or when the model
  fails, the offline answer is given instead.
- Its answer is checked before it is sent: a dollar figure that no tool produced means the
  answer is replaced by the offline writer's (:func:`unverified_figures`).
- Its own calls are counted (tokens, and their cost where the catalogue prices the model) in
  the run's metadata, so Netra is no source of unexplained spend itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from netra.agents.conversation import actions
from netra.agents.conversation.memory import Period
from netra.agents.engine import jsonable
from netra.agents.events import RunEmitter
from netra.agents.llm.base import AnswerBrief
from netra.agents.money import dollar_figures, usd

if TYPE_CHECKING:
    from netra.agents.subagents import RunState

log = logging.getLogger(__name__)

AGENT = "assistant"
_RESULT_CHARS = 6000  # what one tool result may add to the model's context

SYSTEM = (
    "You are Netra, an assistant that analyses an organisation's AI (LLM API) spend. Answer the "
    "user's question by calling the tools: every number you write must come from a tool result, "
    "written as the tool gave it (dollars as $1,234.56). Never compute, estimate or invent a "
    "figure. When the question refers to an earlier answer ('that', 'the first two'), use the "
    "MEMORY below: its findings are numbered from 1. Create a budget only when the user asks for "
    "one. Answer in short Markdown, no preamble."
)

_SCOPE_PROPS: dict[str, Any] = {
    "feature": {"type": "string"},
    "model": {"type": "string"},
    "provider": {"type": "string"},
    "start": {"type": "string", "description": "ISO 8601, inclusive"},
    "end": {"type": "string", "description": "ISO 8601, exclusive"},
}


def _fn(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


TOOLS: list[dict[str, Any]] = [
    _fn("spend_breakdown", "Spend, calls and tokens per group, most expensive first.",
        {"by": {"enum": ["model", "provider", "feature", "user", "day"]}}, ["by"]),
    _fn("usage_trend", "Spend per period, oldest first, with the change against the previous.",
        {"period": {"enum": ["hour", "day", "week", "month"]}}, ["period"]),
    _fn("run_analysis", "Run every waste detector on the current scope: the report's total, "
        "findings (each with its net savings) and projected savings.", {}, []),
    _fn("narrow_scope", "Restrict all further tools to a feature, model, provider and/or period.",
        _SCOPE_PROPS, []),
    _fn("compare", "Two scopes side by side: spend, calls, cost per call and per 1,000 tokens.",
        {"side_a": {"type": "object", "properties": _SCOPE_PROPS},
         "side_b": {"type": "object", "properties": _SCOPE_PROPS}}, ["side_a", "side_b"]),
    _fn("estimate_savings", "What doing some findings would save together (numbers from 1).",
        {"findings": {"type": "array", "items": {"type": "integer"}}}, ["findings"]),
    _fn("explain_finding", "A finding's detail and evidence (numbers from 1).",
        {"findings": {"type": "array", "items": {"type": "integer"}}}, ["findings"]),
    _fn("explain_number", "Which records and catalogue prices a figure comes from.",
        {"finding": {"type": "integer", "description": "a finding's number, or none: the "
                     "current scope's total"}}, []),
    _fn("create_budget", "Create a budget (only when asked): scope 'org', 'feature:<name>' or "
        "'model:<id>'; period 'day' or 'month'.",
        {"scope": {"type": "string"}, "period": {"enum": ["day", "month"]},
         "limit_usd": {"type": "number"}}, ["scope", "period", "limit_usd"]),
]  # fmt: skip
TOOL_NAMES = tuple(t["function"]["name"] for t in TOOLS)


@dataclass
class LlmUsage:
    """The language model's own calls in one run."""

    model: str
    provider: str
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    figures: set[str] = field(default_factory=set)  # every dollar figure a tool produced

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def add(self, usage: dict[str, Any]) -> None:
        self.calls += 1
        self.input_tokens += int(usage.get("prompt_tokens") or 0)
        self.output_tokens += int(usage.get("completion_tokens") or 0)

    def as_dict(self) -> dict[str, Any]:
        cost = own_cost(self.provider, self.model, self.input_tokens, self.output_tokens)
        return {
            "provider": self.provider,
            "model": self.model,
            "calls": self.calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": cost,
        }


def own_cost(provider: str, model: str, input_tokens: int, output_tokens: int) -> float | None:
    """What the model's calls cost at catalogue prices; None when the model is unpriced."""
    from netra.pricing.catalogue import Catalogue, normalize_provider

    catalogue = Catalogue()
    resolved = catalogue.resolve(provider, model)
    if resolved is None:
        return None
    rates = catalogue.rates(normalize_provider(provider), resolved, datetime.now(UTC))
    if rates is None:
        return None
    return round(rates.cost(input_tokens, output_tokens), 6)


def figures_in(value: Any) -> set[str]:
    """Every number in a tool result, as the answers print dollars (``$1,234.56``)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for v in value.values():
            found |= figures_in(v)
    elif isinstance(value, list | tuple):
        for v in value:
            found |= figures_in(v)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        found.add(usd(float(value)))
    elif isinstance(value, str):
        found |= set(dollar_figures(value))
    return found


def unverified_figures(answer: str, allowed: set[str]) -> list[str]:
    return sorted(set(dollar_figures(answer)) - allowed)


def memory_prompt(st: RunState) -> str:
    m = st.memory
    if m.empty:
        return "MEMORY: this is the thread's first question."
    findings = [
        f"{i}. {f.get('title')} (savings {usd(f.get('savings_usd') or 0)})"
        for i, f in enumerate(m.findings, 1)
    ]
    return (
        f"MEMORY: the last answer was about {m.intent}, focus {m.focus or 'none'}, period "
        f"{m.period.label if m.period else 'all data'}. Findings it showed:\n" + "\n".join(findings)
    )


async def run_assistant(st: RunState, em: RunEmitter, settings: Any) -> str | None:
    """The model's answer after its tool calls, or None: the offline path answers instead."""
    limits = st.profile.limits
    usage = LlmUsage(settings.llm_model, settings.llm_provider)
    usage.figures |= figures_in(list(st.memory.findings))  # what earlier turns' tools said
    st.llm_usage = usage
    await em.started(AGENT)
    await em.thinking(AGENT, "Letting the language model choose the tools.", 0.05)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM + "\n\n" + memory_prompt(st)},
        {"role": "user", "content": st.request.text},
    ]
    answer: str | None = None
    outcome = "step_limit"
    for step in range(limits.llm_steps_per_run):
        if usage.tokens >= limits.llm_tokens_per_run:
            outcome = "token_limit"
            break
        try:
            reply = await _model_reply(st, messages, step)
        except Exception as exc:
            log.warning("run %s: the language model failed: %s", st.request.run_id, exc)
            outcome = "llm_error"
            break
        usage.add(reply.get("usage") or {})
        message = reply["message"]
        calls = message.get("tool_calls") or []
        if not calls:
            content = message.get("content")
            answer = content.strip() if isinstance(content, str) and content.strip() else None
            outcome = "answered" if answer else "empty_answer"
            break
        messages.append({"role": "assistant", "content": message.get("content"),
                         "tool_calls": calls})  # fmt: skip
        for call in calls:
            result = await _execute(st, em, call)
            usage.figures |= figures_in(result)
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": str(call.get("id") or ""),
                    "content": json.dumps(result, default=str)[:_RESULT_CHARS],
                }
            )
        await em.thinking(AGENT, f"Step {step + 1}: {len(calls)} tool call(s).",
                          (step + 1) / limits.llm_steps_per_run)  # fmt: skip
    if answer is not None:
        unknown = unverified_figures(answer, usage.figures)
        if unknown:
            outcome, answer = "unverified_figures", None
            st.llm_rejected = unknown[:10]
            await em.thinking(
                AGENT,
                f"The model's answer quoted {', '.join(unknown[:3])}, which no tool produced; "
                "answering from the engine instead.",
                1.0,
            )
    st.llm_outcome = outcome
    await em.completed(AGENT, result={"outcome": outcome, "llm_calls": usage.calls,
                                      "tokens": usage.tokens})  # fmt: skip
    return answer


async def _model_reply(st: RunState, messages: list[dict[str, Any]], step: int) -> dict[str, Any]:
    """The model's reply at ``step``, journaled: a run executed again after its worker died
    reads the replies its first execution got, so the same tools are called (the same events,
    matched with the stored ones) instead of a model's different second thoughts."""
    steps = st.deps.steps
    name = f"llm_reply_{step}"
    kept = await steps.peek(name) if steps is not None else None
    if kept is not None:
        return kept
    reply: dict[str, Any] = await st.writer.chat(messages, TOOLS)
    if steps is not None:
        await steps.record(name, json.loads(json.dumps(reply, default=str)))
    return reply


async def _execute(st: RunState, em: RunEmitter, call: dict[str, Any]) -> Any:
    """One tool call the model asked for; a bad call answers an error the model can read."""
    function = call.get("function") or {}
    name = str(function.get("name") or "")
    try:
        args = json.loads(function.get("arguments") or "{}")
        if not isinstance(args, dict):
            raise ValueError("arguments must be a JSON object")
    except ValueError as exc:
        args, bad = {}, f"bad arguments: {exc}"
    else:
        bad = (
            ""
            if name in TOOL_NAMES and st.profile.allows_tool(_allowed_as(name))
            else (f"unknown or not allowed tool {name!r}")
        )
    call_id = await em.tool_begin(AGENT, name or "unknown", args)
    if bad:
        await em.tool_end(call_id, "error", {"error": bad})
        return {"error": bad}
    try:
        result = jsonable(await _RUN[name](st, args))
    except Exception as exc:  # the model may ask for something impossible: it reads why
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        await em.tool_end(call_id, "error", {"error": message})
        return {"error": message}
    await em.tool_end(call_id, "ok", result)
    return result


def _allowed_as(name: str) -> str:
    return "save_report" if name == "run_analysis" else name


async def _frame(st: RunState) -> Any:
    st.frame = None
    return await st.get_frame()


async def _breakdown(st: RunState, args: dict[str, Any]) -> Any:
    frame = await st.get_frame()
    rows = await asyncio.to_thread(st.engine.spend_breakdown, frame, str(args.get("by")))
    st.breakdowns[str(args.get("by"))] = rows
    return {"rows": rows[:20], "total_rows": len(rows)}


async def _trend(st: RunState, args: dict[str, Any]) -> Any:
    frame = await st.get_frame()
    st.trend = await asyncio.to_thread(st.engine.usage_trend, frame, str(args.get("period")))
    return {"rows": st.trend[-60:]}


async def _analysis(st: RunState, args: dict[str, Any]) -> Any:
    frame = await st.get_frame()
    report = await asyncio.to_thread(st.engine.analyze, frame, None, None, None)
    st.report = report
    st.findings = sorted(report.get("findings") or [],
                         key=lambda f: float(f.get("savings_usd") or 0), reverse=True)  # fmt: skip
    keys = ("title", "kind", "scope", "savings_usd", "current_cost_usd", "confidence")
    return {
        "period": report.get("period"),
        "total_cost_usd": report.get("total_cost_usd"),
        "projected_savings_usd": report.get("projected_savings_usd"),
        "monthly_run_rate_usd": (report.get("forecast") or {}).get("monthly_run_rate_usd"),
        "findings": [
            {"number": i, **{k: f.get(k) for k in keys}} for i, f in enumerate(st.findings[:10], 1)
        ],
    }


def _period(args: dict[str, Any]) -> Period | None:
    start, end = args.get("start"), args.get("end")
    if not start and not end:
        return None
    begin = datetime.fromisoformat(str(start)) if start else None
    finish = datetime.fromisoformat(str(end)) if end else None
    return Period(begin, finish, f"{start or 'the start'} to {end or 'the end'}")


def _focus(args: dict[str, Any]) -> dict[str, str]:
    return {k: str(args[k]) for k in ("feature", "model", "provider") if args.get(k)}


async def _narrow(st: RunState, args: dict[str, Any]) -> Any:
    if not st.all_records:
        st.all_records = st.records
    focus, period = _focus(args), _period(args)
    st.records = actions.in_scope(st.all_records, focus, period)
    st.scope_period = period
    await _frame(st)
    return {"records": len(st.records), "scope": actions.scope_words(focus, period)}


async def _compare(st: RunState, args: dict[str, Any]) -> Any:
    sides = []
    for key in ("side_a", "side_b"):
        raw = args.get(key)
        side: dict[str, Any] = raw if isinstance(raw, dict) else {}
        scoped: dict[str, object] = dict(_focus(side))
        period = _period(side)
        if period is not None:
            scoped["period"] = period
        sides.append(scoped)
    result = await actions.compare(st.engine, st.all_records or st.records, sides)
    st.actions["compare"] = result
    return result


def _numbers(args: dict[str, Any]) -> list[int]:
    return [int(n) - 1 for n in args.get("findings") or [] if isinstance(n, int | float)]


def _findings(st: RunState) -> list[dict[str, Any]]:
    return list(st.findings) or list(st.memory.findings)


async def _estimate(st: RunState, args: dict[str, Any]) -> Any:
    result = actions.estimate_savings(_findings(st), _numbers(args))
    st.actions["estimate_savings"] = result
    return result


async def _explain(st: RunState, args: dict[str, Any]) -> Any:
    result = actions.explain_finding(_findings(st), _numbers(args))
    st.actions["explain_finding"] = result
    return result


async def _explain_number(st: RunState, args: dict[str, Any]) -> Any:
    findings = _findings(st)
    n = args.get("finding")
    finding = findings[int(n) - 1] if isinstance(n, int) and 0 < n <= len(findings) else None
    result = await actions.explain_number(st.engine, st.records, {}, st.scope_period, finding)
    st.actions["explain_number"] = result
    return result


async def _budget(st: RunState, args: dict[str, Any]) -> Any:
    create = st.deps.create_budget
    if create is None or not st.request.context.can(actions.BUDGET_PERMISSION):
        raise PermissionError("the user's role may not create budgets")
    budget = await create(str(args.get("scope")), str(args.get("period")),
                          float(args.get("limit_usd") or 0))  # fmt: skip
    st.budget_scope = str(args.get("scope"))
    st.actions["create_budget"] = {"created": True, "budget": budget, **args,
                                   "basis": "the amount asked for"}  # fmt: skip
    return budget


_RUN = {
    "spend_breakdown": _breakdown,
    "usage_trend": _trend,
    "run_analysis": _analysis,
    "narrow_scope": _narrow,
    "compare": _compare,
    "estimate_savings": _estimate,
    "explain_finding": _explain,
    "explain_number": _explain_number,
    "create_budget": _budget,
}


async def checked_answer(st: RunState, brief: AnswerBrief) -> tuple[str, dict[str, Any]]:
    """The model's answer (already checked: every dollar figure came from a tool), or, when it
    gave none it could keep, the offline writer's from the engine's results (``brief``)."""
    meta: dict[str, Any] = {"writer": "llm_tools", "llm_outcome": st.llm_outcome}
    if st.llm_text:
        return st.llm_text, {**meta, "degraded": False}
    meta.update(degraded_reason=f"llm_{st.llm_outcome}", unverified=st.llm_rejected)
    text = await st.writer.fallback.write(brief)
    return text, {**meta, "writer": st.writer.fallback.name, "degraded": True}
