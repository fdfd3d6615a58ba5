"""The offline writer: deterministic, specific answers built from the brief alone.

The default provider, and the fallback when an LLM is configured but fails. One composition
per triage intent; every figure is formatted from the engine's report, never computed here.
"""

from __future__ import annotations

from typing import Any

from netra.agents.llm import followups
from netra.agents.llm import sections as s
from netra.agents.llm.base import AnswerBrief
from netra.agents.money import usd
from netra.agents.playbook import where

OUT_OF_SCOPE = (
    "Sorry, that is outside what I can help with. I analyse your organisation's AI spend: "
    "where the money goes, how to cut it, how models and providers compare, what a finding "
    'means, and budgets. Try asking "where is my money going and how do I cut it?"'
)


class OfflineWriter:
    name = "offline"

    async def write(self, brief: AnswerBrief) -> str:
        return compose(brief)


def compose(b: AnswerBrief) -> str:
    if b.intent == "out_of_scope":
        return OUT_OF_SCOPE
    acted = followups.compose(b)
    if acted is not None:
        return "\n\n".join(p for p in acted if p)
    if b.sufficiency == "insufficient" or not b.report:
        return (
            f"I cannot analyse your spend yet: {b.sufficiency_reason}, and I will not guess "
            "numbers.\n\n" + s.upload_help()
        )
    writer = _BY_INTENT.get(b.intent, _reduce_cost)
    parts = [followups.narrowed(b), followups.comparison(b)]
    parts = [p for p in parts + writer(b) if p]
    caveat = s.caveats(b)
    if caveat:
        parts.append(caveat)
    if b.report_id:
        parts.append(f"Full report: `GET /api/v1/analyses/{b.report_id}`.")
    return "\n\n".join(parts)


def _focus_words(b: AnswerBrief) -> str:
    return ", ".join(f"{k} {v}" for k, v in b.focus.items())


def _in_focus(b: AnswerBrief) -> list[dict[str, Any]]:
    """Findings whose scope matches what the user named (and contradicts none of it)."""
    out = []
    for f in b.findings:
        scope = f.get("scope") or {}
        if all(scope.get(k) in (None, v) for k, v in b.focus.items()) and any(
            scope.get(k) == v for k, v in b.focus.items()
        ):
            out.append(f)
    return out


def _focused(b: AnswerBrief) -> list[dict[str, Any]]:
    """The ranked findings, those in the asked-about scope first."""
    if not b.focus:
        return b.findings
    inside = _in_focus(b)
    return inside + [f for f in b.findings if f not in inside]


def _focus_note(b: AnswerBrief) -> str:
    if not b.focus:
        return ""
    words = _focus_words(b)
    if _in_focus(b):
        return f"You asked about {words}; the findings in that scope come first."
    spend = ""
    for by, name in b.focus.items():
        row = next((r for r in b.top_spenders.get(by, []) if s.label(r, by) == name), None)
        amount = s.cost(row) if row else None
        if amount is not None:
            spend = f" It cost {usd(amount)}{s.share(row or {})} in this period."
    return (
        f"You asked about {words}: Netra found no saving specific to it.{spend} The biggest "
        "savings are elsewhere:"
    )


def _spend_overview(b: AnswerBrief) -> list[str]:
    parts = [
        s.headline(b),
        s.top_list(b, "feature", 5, "**Where it goes, by feature:**"),
        s.top_list(b, "model", 5, "**By model:**"),
        s.trend_sentence(b),
        s.run_rate(b),
        s.savings_sentence(b),
    ]
    if b.findings:
        top = b.findings[0]
        parts.append(
            f"The biggest opportunity is **{top.get('title')}** ({where(top)}), worth "
            f"{usd(top.get('savings_usd') or 0)}. Ask me how to cut your spend for the full "
            "action plan."
        )
    return parts


def _reduce_cost(b: AnswerBrief) -> list[str]:
    findings = _focused(b)
    parts = [s.headline(b), s.savings_sentence(b)]
    parts.append(s.top_list(b, "feature", 3, "**Biggest spenders, by feature:**"))
    parts.append(s.top_list(b, "model", 3, "**By model:**"))
    parts.append(_focus_note(b))
    if findings:
        lines = [s.finding_line(i, f) for i, f in enumerate(findings[: len(b.plan) or 3], 1)]
        parts.append("**Top findings (net savings):**\n" + "\n".join(lines))
    parts.append(s.plan_lines(b))
    parts.append(s.run_rate(b))
    return parts


def _compare(b: AnswerBrief) -> list[str]:
    parts = [
        s.headline(b),
        s.top_list(b, "provider", 6, "**By provider:**"),
        s.top_list(b, "model", 8, "**By model:**"),
    ]
    switches = [
        f for f in _focused(b) if f.get("kind") in ("provider_arbitrage", "model_rightsizing")
    ]
    if switches:
        lines = [s.finding_line(i, f) for i, f in enumerate(switches[:5], 1)]
        parts.append("**Cheaper options for the same traffic:**\n" + "\n".join(lines))
    else:
        parts.append(
            "Netra found no cheaper model or provider that fits your observed traffic; the "
            "differences above come from what each model is used for, not from overpaying."
        )
    parts.append(s.savings_sentence(b))
    return parts


def _explain(b: AnswerBrief) -> list[str]:
    wanted = [f for f in _focused(b) if f.get("kind") in b.finding_kinds] or (
        [] if b.finding_kinds else _focused(b)[:1]
    )
    parts = [s.headline(b)]
    if not wanted:
        asked = ", ".join(k.replace("_", " ") for k in b.finding_kinds) or "that"
        parts.append(f"Netra found no {asked} finding in your data.")
        if b.findings:
            lines = [s.finding_line(i, f) for i, f in enumerate(b.findings[:3], 1)]
            parts.append("The findings it did make:\n" + "\n".join(lines))
        return parts
    for f in wanted[:3]:
        block = [
            f"**{f.get('title') or f.get('kind')}** ({str(f.get('kind')).replace('_', ' ')}, "
            f"{where(f)})",
            str(f.get("detail") or "").strip(),
            f"It covers {int(f.get('affected_records') or 0):,} calls that cost "
            f"{usd(f.get('current_cost_usd') or 0)}; after the change they would cost "
            f"{usd(f.get('projected_cost_usd') or 0)}, a net saving of "
            f"**{usd(f.get('savings_usd') or 0)}** ({f.get('confidence', 'medium')} confidence). "
            "Net means the cost of the change itself (cache writes, the cheaper model's own "
            "tokens) is already subtracted.",
        ]
        evidence = s.evidence_lines(f)
        if evidence:
            block.append("Evidence:\n" + "\n".join(evidence))
        step = next((p for p in b.plan if p["kind"] == f.get("kind")), None)
        if step:
            block.append(
                f"What to do: {step['change']}. Risk: {step['risk']}, {step['risk_note']}. "
                f"How to verify: {step['verify']}."
            )
        parts.append("\n".join(x for x in block if x))
    return parts


def _budget(b: AnswerBrief) -> list[str]:
    parts = [s.headline(b), s.run_rate(b), s.trend_sentence(b), s.savings_sentence(b)]
    if b.findings:
        top = b.findings[0]
        parts.append(
            f"The quickest way to lower the run rate: **{top.get('title')}** ({where(top)}), "
            f"{usd(top.get('savings_usd') or 0)} over this period."
        )
    parts.append(
        "To be warned before you overspend, set a budget: `POST /api/v1/budgets` with "
        '`{"scope": "org", "period": "month", "limit_usd": <your limit>}` (or a scope of '
        '`"feature:<name>"` / `"model:<id>"`); Netra alerts at 80 % and 100 % of it.'
    )
    parts.append(s.top_list(b, "feature", 3, "**Largest lines to watch:**"))
    return parts


_BY_INTENT = {
    "spend_overview": _spend_overview,
    "reduce_cost": _reduce_cost,
    "compare": _compare,
    "explain_finding": _explain,
    "budget": _budget,
}
