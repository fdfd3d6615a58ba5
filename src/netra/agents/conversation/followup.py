"""Follow-up questions: what a message asks of the thread's earlier turns.

Deterministic rules over the text and the :class:`Memory` of the thread, no LLM:
- references to findings shown before: "the first two", "the second one", "#3", "both",
  "all of them", and "that", "it", "this one" (the finding the last turn was about, else its top);
- names of the organisation's features, models and providers ("what about gpt-4o?");
- periods relative to the newest record of the data ("last week", "last 14 days", "this month",
  "in November", "yesterday"): usage uploads lag, so "last week" means the data's last week;
- an amount ("$500", "2k dollars") and a budget period ("daily", "per month").

:func:`resolve` turns these into a :class:`Followup`: which action the message asks for, on which
findings, in which scope. A message that refers to nothing earlier is a new question
(``kind`` None) that may still carry a scope (``focus``, ``period``).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from netra.agents.conversation.memory import Memory, Period


class Kind(StrEnum):
    EXPLAIN_FINDING = "explain_finding"  # "why that one?"
    WHAT_IF = "what_if"  # "how much if we do the first two?"
    CREATE_BUDGET = "create_budget"  # "set a budget for it"
    COMPARE = "compare"  # "compare gpt-4o with claude-sonnet-4-5", "this week vs last week"
    EXPLAIN_NUMBER = "explain_number"  # "where does that number come from?"
    NARROW = "narrow"  # "what about gpt-4o?", "and only last week?"


@dataclass(frozen=True)
class Followup:
    kind: Kind | None  # None: a new question
    refs: tuple[int, ...] = ()  # indexes into the memory's findings
    focus: dict[str, str] = field(default_factory=dict)  # feature | model | provider -> name
    period: Period | None = None
    amount_usd: float | None = None
    budget_period: str = "month"
    sides: tuple[dict[str, object], ...] = ()  # COMPARE: two scopes ({"model": m} / {"period": p})
    carried_intent: str | None = None  # NARROW: the earlier turn's intent, asked again


@dataclass(frozen=True)
class Names:
    """What the organisation's data contains, to recognise names in a message."""

    features: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    last: datetime | None = None  # the newest record: "last week" ends here

    def by_kind(self) -> Iterable[tuple[str, tuple[str, ...]]]:
        return (("feature", self.features), ("model", self.models), ("provider", self.providers))


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_ORDINAL = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
    "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8,
}  # fmt: skip
_COUNT = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}
_ORD_WORDS = "|".join(_ORDINAL)
_COUNT_WORDS = "|".join([*_COUNT, r"\d"])

_FIRST_N = _rx(rf"\b(?:the\s+)?(?:first|top)\s+({_COUNT_WORDS})\b(?!\s*(?:days?|weeks?|months?))")
_NTH = _rx(rf"\b(?:the\s+)?({_ORD_WORDS})\b(?:\s+(?:one|finding|recommendation|item|step))?")
_NUMBERED = _rx(r"(?:#|\bno\.?\s*|\bnumber\s+|\bfinding\s+|\bitem\s+)(\d{1,2})\b")
_AND_NTH = _rx(rf"\band\s+(?:the\s+)?({_ORD_WORDS})\b")
_BOTH = _rx(r"\bboth\b")
_ALL = _rx(r"\ball\s+(?:of\s+)?(?:them|these|those|the\s+findings|of\s+it)\b|\beverything\b")
_PRONOUN = _rx(r"\b(?:that|this|it|those|these|them)\b(?:\s+(?:one|ones|finding|number))?")

_BUDGET = _rx(
    r"\b(?:set|create|add|make|put|give\s+me|set\s+up)\b[^.?!]{0,40}\b(?:budget|spending\s+limit|"
    r"cap|alert)s?\b|\bbudget\s+(?:it|for\s+(?:it|that|this))\b|\balert\s+me\s+(?:when|if)\b"
)
_WHAT_IF = _rx(
    r"\bhow\s+much\b[^.?!]{0,40}\b(?:if|would|could|do|did)\b|\bwhat\s+if\s+we\b|"
    r"\bif\s+we\s+(?:do|did|apply|implement|fix|take)\b|\bcombined\b|\btogether\b|"
    r"\bsav(?:e|ings?)\s+(?:from|of|if)\b"
)
_EXPLAIN = _rx(
    r"^\s*why\b|\bwhy\s+(?:that|this|it|is|was|the)\b|\bexplain\b|\btell\s+me\s+more\b|"
    r"\bwhat\s+(?:does|do)\s+(?:that|this|it)\s+mean\b|\bhow\s+did\s+you\s+(?:find|get|conclude)\b|"
    r"\bmore\s+(?:detail|details|about)\b|\bwhat\s+is\s+(?:that|this)\b|\bwhy\b"
)
_NUMBER = _rx(
    r"\b(?:where|how)\s+(?:does|did|do)\s+(?:that|this|the)\s+(?:number|figure|total|amount|"
    r"cost|spend|\$[\d.,]+)\b|\bhow\s+(?:is|was)\s+(?:that|this|the)\s+(?:number|figure|total|"
    r"amount)\s+(?:computed|calculated|made)|\bwhich\s+(?:records|calls|prices)\b|"
    r"\bwhat\s+prices\b|\bexplain\s+(?:that|this|the)\s+(?:number|figure|total|\$)|"
    r"\bbreak\s+(?:that|this)\s+(?:number|figure|total)\s+down\b|\bhow\s+did\s+you\s+price\b|"
    r"\bhow\s+did\s+you\s+(?:get|compute|calculate|arrive\s+at|come\s+up\s+with)\s+(?:that|this|"
    r"the)\s+(?:number|figure|total|amount|\$[\d.,]+)"
)
_COMPARE = _rx(r"\bcompar\w*|\bversus\b|\bvs\.?(?=\s)|\bagainst\b|\bor\b.*\bcheaper\b")
_NARROW_LEAD = _rx(
    r"^\s*(?:and|but|ok(?:ay)?|so)?[\s,]*(?:what|how)\s+about\b|^\s*and\b|^\s*(?:only|just)\b|"
    r"\b(?:only|just)\s+(?:for|in|on|the|last|this)\b|^\s*same\s+(?:for|but)\b"
)
_AMOUNT = _rx(
    r"\$\s?(\d[\d,]*(?:\.\d+)?)\s*([km])?\b|\b(\d[\d,]*(?:\.\d+)?)\s*([km])?\s*(?:usd|dollars?)\b"
)
_DAILY = _rx(r"\b(?:daily|a\s+day|per\s+day|each\s+day|every\s+day)\b")


def resolve(text: str, memory: Memory, names: Names) -> Followup:
    """What ``text`` asks, resolved against the thread's ``memory`` and the data's ``names``."""
    mentioned = mentions(text, names)
    periods = periods_in(text, names.last)
    period = periods[0] if periods else None
    amount = amount_in(text)
    budget_period = "day" if _DAILY.search(text) else "month"
    explicit = refs_in(text, len(memory.findings))
    has_findings = bool(memory.findings)
    new_focus = _first_of_each(mentioned)

    def refs(default_all: bool = False) -> tuple[int, ...]:
        if explicit:
            return explicit
        if default_all:
            return tuple(range(len(memory.findings)))
        return memory.referenced or ((0,) if has_findings else ())

    if _BUDGET.search(text):
        return Followup(
            Kind.CREATE_BUDGET,
            refs=() if new_focus else refs(),
            focus=new_focus or dict(memory.focus),
            period=period,
            amount_usd=amount,
            budget_period=budget_period,
        )
    sides = _sides(text, mentioned, periods, memory)
    if _COMPARE.search(text) and len(sides) == 2:
        return Followup(Kind.COMPARE, focus=dict(memory.focus), period=period, sides=sides)
    if memory.empty:
        return Followup(None, focus=new_focus, period=period, amount_usd=amount)
    if _NUMBER.search(text):
        return Followup(Kind.EXPLAIN_NUMBER, refs=explicit, focus=dict(memory.focus),
                        period=memory.period)  # fmt: skip
    if has_findings and _WHAT_IF.search(text):
        everything = bool(_ALL.search(text)) or not (explicit or _PRONOUN.search(text))
        return Followup(Kind.WHAT_IF, refs=refs(default_all=everything), focus=dict(memory.focus),
                        period=memory.period)  # fmt: skip
    if has_findings and _EXPLAIN.search(text) and (explicit or not new_focus):
        return Followup(Kind.EXPLAIN_FINDING, refs=refs(), focus=dict(memory.focus),
                        period=memory.period)  # fmt: skip
    short = len(re.findall(r"\w+", text)) <= 8
    if (new_focus or period) and (short or _NARROW_LEAD.search(text)):
        if new_focus:
            focus = {**memory.focus, **new_focus} if _keeps_focus(text) else new_focus
        else:
            focus = dict(memory.focus)
        return Followup(
            Kind.NARROW,
            focus=focus,
            period=period or memory.period,
            carried_intent=memory.intent,
        )
    return Followup(None, focus=new_focus, period=period, amount_usd=amount)


def _keeps_focus(text: str) -> bool:
    """ "and within that, only gpt-4o" narrows further; "what about gpt-4o?" switches."""
    return bool(re.search(r"\b(?:within|inside|of\s+(?:that|it|those))\b", text, re.IGNORECASE))


def _first_of_each(mentioned: Sequence[tuple[str, str]]) -> dict[str, str]:
    focus: dict[str, str] = {}
    for kind, name in mentioned:
        focus.setdefault(kind, name)
    return focus


def _sides(
    text: str,
    mentioned: Sequence[tuple[str, str]],
    periods: Sequence[Period],
    memory: Memory,
) -> tuple[dict[str, object], ...]:
    """The two scopes a comparison sets side by side: two names of one kind, two periods, or
    one named and the one the thread was about."""
    for kind in ("model", "provider", "feature"):
        names = [n for k, n in mentioned if k == kind]
        if len(names) >= 2:
            return ({kind: names[0]}, {kind: names[1]})
        if len(names) == 1 and memory.focus.get(kind) and memory.focus[kind] != names[0]:
            return ({kind: memory.focus[kind]}, {kind: names[0]})
    if len(periods) >= 2:
        return ({"period": periods[0]}, {"period": periods[1]})
    return ()


# ---- references ----------------------------------------------------------------------------


def refs_in(text: str, shown: int) -> tuple[int, ...]:
    """Indexes of the findings ``text`` names explicitly (0-based, in the order named)."""
    if shown <= 0:
        return ()
    found: list[int] = []
    for m in _FIRST_N.finditer(text):
        n = _COUNT.get(m.group(1).lower()) or int(m.group(1))
        found.extend(range(min(n, shown)))
    if not found and _BOTH.search(text):
        found.extend(range(min(2, shown)))
    if not found and _ALL.search(text):
        found.extend(range(shown))
    for m in _NTH.finditer(text):
        word = m.group(1).lower()
        if word == "first" and _FIRST_N.search(text):
            continue
        found.append(_ORDINAL[word] - 1)
    for m in _AND_NTH.finditer(text):
        found.append(_ORDINAL[m.group(1).lower()] - 1)
    for m in _NUMBERED.finditer(text):
        found.append(int(m.group(1)) - 1)
    out: list[int] = []
    for i in found:
        if 0 <= i < shown and i not in out:
            out.append(i)
    return tuple(out)


def mentions(text: str, names: Names) -> list[tuple[str, str]]:
    """(kind, name) of every feature, model and provider named, in the order they appear;
    the longest name wins where names overlap ("gpt-4o-mini" over "gpt-4o")."""
    lowered = text.lower()
    hits: list[tuple[int, int, str, str]] = []
    for kind, candidates in names.by_kind():
        for name in {n for n in candidates if n}:
            pattern = rf"(?<![\w-]){re.escape(name.lower())}(?![\w-])"
            for m in re.finditer(pattern, lowered):
                hits.append((m.start(), m.end(), kind, name))
    hits.sort(key=lambda h: (h[0], -(h[1] - h[0])))
    out: list[tuple[str, str]] = []
    taken_until = -1
    for start, end, kind, name in hits:
        if start < taken_until or (kind, name) in out:
            continue
        out.append((kind, name))
        taken_until = end
    return out


def amount_in(text: str) -> float | None:
    m = _AMOUNT.search(text)
    if not m:
        return None
    number, suffix = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    value = float(number.replace(",", ""))
    scale = {"k": 1_000.0, "m": 1_000_000.0}.get((suffix or "").lower(), 1.0)
    return value * scale


# ---- periods ---------------------------------------------------------------------------------

_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
_PERIOD = _rx(
    r"\b(?:(?:the\s+)?(last|past|previous)\s+(\d{1,3})\s+(days?|weeks?|months?)|"
    r"(last|past|previous|this)\s+(week|month)|(yesterday|today)|"
    r"(?:in|for|during)\s+(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\b)"
)


def _day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _month_start(moment: datetime, back: int = 0) -> datetime:
    year, month = moment.year, moment.month - back
    while month < 1:
        month += 12
        year -= 1
    return datetime(year, month, 1, tzinfo=moment.tzinfo or UTC)


def _label(what: str, start: datetime, end: datetime) -> str:
    last_day = (end - timedelta(microseconds=1)).date()
    return f"{what} ({start.date().isoformat()} to {last_day.isoformat()})"


def periods_in(text: str, anchor: datetime | None) -> list[Period]:
    """The periods ``text`` names, relative to ``anchor`` (the newest record), in order."""
    if anchor is None:
        return []
    if anchor.tzinfo is None:
        anchor = anchor.replace(tzinfo=UTC)
    tomorrow = _day(anchor) + timedelta(days=1)  # periods end after the anchor's day
    out: list[Period] = []
    for m in _PERIOD.finditer(text):
        if m.group(2):
            n, unit = int(m.group(2)), m.group(3).lower().rstrip("s")
            if n < 1:
                continue
            if unit == "month":
                start = _month_start(tomorrow - timedelta(days=1), n - 1)
                what = f"the last {n} months of your data"
            else:
                days = n * (7 if unit == "week" else 1)
                start = tomorrow - timedelta(days=days)
                what = f"the last {days} days of your data"
            out.append(Period(start, tomorrow, _label(what, start, tomorrow)))
        elif m.group(5):
            which, unit = m.group(4).lower(), m.group(5).lower()
            if unit == "week":
                if which == "this":
                    start = _day(anchor) - timedelta(days=anchor.weekday())
                    out.append(
                        Period(start, tomorrow, _label("the data's latest week", start, tomorrow))
                    )
                else:
                    start = tomorrow - timedelta(days=7)
                    out.append(
                        Period(
                            start, tomorrow, _label("the last 7 days of your data", start, tomorrow)
                        )
                    )
            elif which == "this":
                start = _month_start(anchor)
                out.append(
                    Period(start, tomorrow, _label("the data's latest month", start, tomorrow))
                )
            else:
                start, end = _month_start(anchor, 1), _month_start(anchor)
                out.append(
                    Period(start, end, _label("the month before the data's latest", start, end))
                )
        elif m.group(6):
            day = _day(anchor) - timedelta(days=1 if m.group(6).lower() == "yesterday" else 0)
            what = (
                "the day before the newest record"
                if m.group(6).lower() == "yesterday"
                else "the newest record's day"
            )
            out.append(
                Period(day, day + timedelta(days=1), _label(what, day, day + timedelta(days=1)))
            )
        elif m.group(7):
            month = _MONTHS[m.group(7).lower()]
            year = anchor.year if month <= anchor.month else anchor.year - 1
            start = datetime(year, month, 1, tzinfo=UTC)
            end = _month_start(start.replace(day=28) + timedelta(days=4))
            out.append(Period(start, end, _label(calendar.month_name[month], start, end)))
    return out
