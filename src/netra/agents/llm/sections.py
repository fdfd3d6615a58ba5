"""Building blocks of the offline answers: each returns prose made only of the brief's figures."""

from __future__ import annotations

from typing import Any

from netra.agents.llm.base import AnswerBrief
from netra.agents.money import pct, usd
from netra.agents.playbook import where
from netra.records.record import OPTIONAL_FIELDS, REQUIRED_FIELDS

_LABEL_KEYS = ("key", "feature", "model", "provider", "user", "day", "date", "period", "name")
_NONE_LABEL = {"feature": "(no feature)", "user": "(no user)"}


def label(row: dict[str, Any], by: str | None = None) -> str:
    """A breakdown row's group name (the engine puts it in ``key``)."""
    for key in _LABEL_KEYS:
        if key in row:
            value = row[key]
            if value in (None, ""):
                return _NONE_LABEL.get(by or "", "(none)")
            text = str(value)
            return text[:10] if by in ("day", None) and key in ("key", "day", "date") else text
    return "(unnamed)"


def cost(row: dict[str, Any]) -> float | None:
    for key in ("cost_usd", "total_cost_usd", "spend_usd", "cost"):
        value = row.get(key)
        if isinstance(value, int | float):
            return float(value)
    return None


def share(row: dict[str, Any]) -> str:
    for key in ("share_pct", "pct", "percent", "share"):
        value = row.get(key)
        if isinstance(value, int | float):
            return f" ({pct(value * 100 if key == 'share' and value <= 1 else value)})"
    return ""


def calls(row: dict[str, Any]) -> str:
    for key in ("records", "calls", "count", "requests"):
        value = row.get(key)
        if isinstance(value, int):
            return f", {value:,} calls"
    return ""


def period_words(report: dict[str, Any]) -> str:
    period = report.get("period") or {}
    start, end = str(period.get("start") or "")[:10], str(period.get("end") or "")[:10]
    if start and end:
        return f"from {start} to {end}" if start != end else f"on {start}"
    return "over the stored period"


def headline(b: AnswerBrief) -> str:
    r = b.report or {}
    total = usd(r.get("total_cost_usd") or 0)
    calls = int(r.get("records") or 0)
    when = period_words(r).capitalize()
    text = f"{when} your organisation spent **{total}** on {calls:,} LLM calls."
    unpriced = r.get("unpriced") or []
    if unpriced:
        names = ", ".join(f"{u.get('provider')}/{u.get('model')}" for u in unpriced[:5])
        count = sum(int(u.get("records", 0)) for u in unpriced)
        text += (
            f" {count:,} calls to models the price catalogue does not know ({names}) are left "
            "unpriced, not counted as free."
        )
    return text


def savings_sentence(b: AnswerBrief) -> str:
    r = b.report or {}
    savings = float(r.get("projected_savings_usd") or 0)
    if savings <= 0:
        return "Netra found no change that would save money on this traffic."
    return (
        f"Netra projects **{usd(savings)}** of net savings on that spend "
        f"({pct(r.get('projected_savings_pct') or 0)}), counting no dollar twice."
    )


def run_rate(b: AnswerBrief) -> str:
    rate = ((b.report or {}).get("forecast") or {}).get("monthly_run_rate_usd")
    if rate is None:
        return ""
    return f"At this pace the monthly run rate is **{usd(rate)}**."


def top_list(b: AnswerBrief, by: str, limit: int, title: str) -> str:
    rows = b.top_spenders.get(by) or b.breakdowns.get(by) or []
    lines = []
    for row in rows[:limit]:
        amount = cost(row)
        if amount is None:
            continue
        lines.append(f"- {label(row, by)}: {usd(amount)}{share(row)}{calls(row)}")
    return f"{title}\n" + "\n".join(lines) if lines else ""


def trend_sentence(b: AnswerBrief) -> str:
    priced = [(label(r), cost(r)) for r in b.trend if cost(r) is not None]
    if len(priced) < 2:
        return ""
    busiest = max(priced, key=lambda p: p[1] or 0)
    last = priced[-1]
    return (
        f"Daily spend peaked on {busiest[0]} at {usd(busiest[1] or 0)}; the latest day "
        f"({last[0]}) cost {usd(last[1] or 0)}."
    )


def finding_line(i: int, f: dict[str, Any]) -> str:
    line = (
        f"{i}. **{f.get('title') or f.get('kind')}** ({where(f)}): saves "
        f"{usd(f.get('savings_usd') or 0)} net, from {usd(f.get('current_cost_usd') or 0)} to "
        f"{usd(f.get('projected_cost_usd') or 0)}; {f.get('confidence', 'medium')} confidence, "
        f"{int(f.get('affected_records') or 0):,} calls affected."
    )
    detail = str(f.get("detail") or "").strip()
    return f"{line} {detail}" if detail else line


def evidence_lines(f: dict[str, Any]) -> list[str]:
    out = []
    for key, value in (f.get("evidence") or {}).items():
        if isinstance(value, bool) or value is None or isinstance(value, dict | list):
            continue
        shown = usd(value) if key.endswith("_usd") and isinstance(value, int | float) else value
        if isinstance(shown, float):
            shown = f"{shown:,.4g}"
        elif isinstance(shown, int):
            shown = f"{shown:,}"
        out.append(f"- {key.replace('_', ' ')}: {shown}")
    return out[:8]


def plan_lines(b: AnswerBrief) -> str:
    if not b.plan:
        return ""
    lines = ["**What to do, in order:**"]
    for s in b.plan:
        lines.append(
            f"{s['order']}. {s['change']}. Expected savings **{usd(s['expected_savings_usd'])}**"
            f" ({s['confidence']} confidence). Risk: {s['risk']}, {s['risk_note']}. "
            f"How to verify: {s['verify']}."
        )
    return "\n".join(lines)


def caveats(b: AnswerBrief) -> str:
    notes = []
    if b.sufficiency == "partial":
        notes.append(
            f"Note: {b.sufficiency_reason}, so treat these figures as early indications; "
            "uploading more history will firm them up."
        )
    if b.coverage.get("truncated"):
        notes.append(
            f"Your {b.tier} plan analyses at most {b.max_records:,} records per run; this answer "
            "covers only those."
        )
    return "\n".join(notes)


def upload_help() -> str:
    required = ", ".join(f"`{f}`" for f in REQUIRED_FIELDS)
    optional = ", ".join(f"`{f}`" for f in OPTIONAL_FIELDS)
    return (
        "**What I need:** the usage records of your own LLM calls. The export you already have "
        "works as it is: OpenAI or Anthropic usage reports, LiteLLM spend logs, Langfuse "
        "observations, Helicone or OpenRouter exports (recognised automatically). Or Netra's "
        "own records, one row per call, as CSV (header row), JSON Lines or JSON.\n"
        f"- Required fields: {required}.\n"
        f"- Optional fields (they unlock more findings): {optional}. Without `cost_usd` the "
        "price is taken from the catalogue; `feature`, `prompt_hash`, `retry_of` and "
        "`latency_ms` let me find caching, retry and batching savings per feature.\n"
        "- Example CSV:\n"
        "  `timestamp,provider,model,input_tokens,output_tokens,feature,prompt_hash`\n"
        "  `2025-01-06T09:30:00Z,openai,gpt-4o,1850,320,support-chat,9f2c1a`\n\n"
        "**How to upload:** the Upload button in the web app, or `POST /api/v1/usage/upload` "
        "with the file as multipart form data (any size), or `POST /api/v1/usage` with "
        '`{"records": [...]}` (up to 10,000 per call). A few weeks of traffic give the most '
        "dependable findings. To try Netra first, `netra demo-data --out demo.csv` writes a "
        "realistic sample you can upload."
    )
