"""Offline answers to follow-ups in a thread: every figure is a tool result's or a finding's that
an earlier turn showed (``brief.remembered``), never computed here."""

from __future__ import annotations

from typing import Any

from netra.agents.llm import sections as s
from netra.agents.llm.base import AnswerBrief
from netra.agents.money import usd
from netra.agents.playbook import where


def compose(b: AnswerBrief) -> list[str] | None:
    """The answer's parts for an action follow-up, or None when the usual answer fits."""
    if b.followup == "what_if" and "estimate_savings" in b.actions:
        return _what_if(b.actions["estimate_savings"])
    if b.followup == "explain_finding" and "explain_finding" in b.actions:
        return _explain(b.actions["explain_finding"])
    if b.followup == "explain_number" and "explain_number" in b.actions:
        return _number(b.actions["explain_number"])
    if b.followup == "create_budget" and "create_budget" in b.actions:
        return _budget(b.actions["create_budget"])
    return None


def comparison(b: AnswerBrief) -> str:
    """The compare tool's table, when the message set two scopes side by side."""
    found = b.actions.get("compare")
    if not found:
        return ""
    lines = []
    for side in found["sides"]:
        per_call = side.get("cost_per_call_usd")
        per_k = side.get("cost_per_1k_tokens_usd")
        lines.append(
            f"- **{side['label']}**: {usd(side.get('cost_usd') or 0)} for "
            f"{int(side.get('calls') or 0):,} calls"
            + (f", ${per_call:,.4f} per call" if per_call is not None else "")
            + (f", ${per_k:,.4f} per 1,000 tokens" if per_k is not None else "")
        )
    change = found.get("change_pct")
    tail = ""
    if change is not None:
        a, b2 = found["sides"]
        direction = "more" if change >= 0 else "less"
        tail = f"\n\n{b2['label']} cost {abs(change):g}% {direction} than {a['label']}."
    return "**Side by side:**\n" + "\n".join(lines) + tail


def narrowed(b: AnswerBrief) -> str:
    if b.followup != "narrow":
        return ""
    scope = [f"{k} {v}" for k, v in b.focus.items()]
    if b.period:
        scope.append(str(b.period.get("label")))
    return f"Narrowed to {', '.join(scope)}, as you asked." if scope else ""


def _what_if(r: dict[str, Any]) -> list[str]:
    chosen = r.get("findings") or []
    if not chosen:
        return ["There is no finding with that number in my last answer."]
    lines = [f"{f['index']}. {f['title']}: {usd(f.get('savings_usd') or 0)}" for f in chosen]
    which = "it" if len(chosen) == 1 else f"these {len(chosen)}"
    parts = [
        f"If you do {which}, you would save **{usd(r.get('savings_usd') or 0)}** over the "
        "analysed period:\n" + "\n".join(lines)
    ]
    if r.get("overlap"):
        parts.append(
            "Some of them change the same traffic (one feature on one model), so their savings "
            "overlap: the total counts that traffic's saving once, at most its current cost."
        )
    return parts


def _explain(r: dict[str, Any]) -> list[str]:
    parts = []
    for f in r.get("findings") or []:
        block = [
            f"**{f['index']}. {f.get('title')}** ({str(f.get('kind')).replace('_', ' ')}, "
            f"{where(f)})",
            str(f.get("detail") or "").strip(),
            f"It covers {int(f.get('affected_records') or 0):,} calls that cost "
            f"{usd(f.get('current_cost_usd') or 0)}; after the change they would cost "
            f"{usd(f.get('projected_cost_usd') or 0)}, a net saving of "
            f"**{usd(f.get('savings_usd') or 0)}** ({f.get('confidence') or 'medium'} "
            "confidence).",
        ]
        evidence = s.evidence_lines(f)
        if evidence:
            block.append("Evidence:\n" + "\n".join(evidence))
        parts.append("\n".join(x for x in block if x))
    return parts or ["There is no finding with that number in my last answer."]


def _number(r: dict[str, Any]) -> list[str]:
    subject = f"**{r['finding']}**" if r.get("finding") else "that spend"
    records, billed = int(r.get("records") or 0), int(r.get("billed_records") or 0)
    catalogue, unpriced = int(r.get("catalogue_priced_records") or 0), r.get("unpriced_records")
    parts = [
        f"The figures for {subject} come from {records:,} stored records "
        f"({int(r.get('calls') or 0):,} calls) of {r.get('scope')}, from "
        f"{str(r.get('first') or '?')[:10]} to {str(r.get('last') or '?')[:10]}, costing "
        f"{usd(r.get('cost_usd') or 0)} in all.",
        f"{billed:,} of them carry the cost you were billed (`cost_usd`); the other "
        f"{catalogue:,} are priced from the catalogue at the time of each call"
        + (
            f", and {int(unpriced):,} could not be priced (left out, never counted as $0)."
            if unpriced
            else "."
        ),
    ]
    lines = []
    for p in r.get("prices") or []:
        rates = p.get("per_million_tokens")
        if rates:
            lines.append(
                f"- {p['provider']}/{p['model']}: input {usd(rates['input'])}, cached input "
                f"{usd(rates['cached_input'])}, cache write {usd(rates['cache_write'])}, output "
                f"{usd(rates['output'])} per million tokens"
            )
        else:
            lines.append(f"- {p['provider']}/{p['model']}: not in the catalogue (unpriced)")
    if lines:
        parts.append("**Catalogue prices used:**\n" + "\n".join(lines))
    return parts


def _budget(r: dict[str, Any]) -> list[str]:
    what = f"a {r['period']}ly budget of {usd(r['limit_usd'])} for {r['scope']}".replace(
        "dayly", "daily"
    )
    if not r.get("created"):
        return [f"I did not create {what}: {r.get('reason')}."]
    return [
        f"Done: I created {what} (set from {r.get('basis')}). Netra alerts at 80 % and 100 % of "
        "it; you can see it on the Budgets page and change it there."
    ]
