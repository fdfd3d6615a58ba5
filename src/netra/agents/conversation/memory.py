"""What a thread remembers between turns.

Each assistant message stores, in its ``meta``, the structured result of its run: the focus
(feature, model, provider, period), the findings it showed in the order shown, which of them
the turn was about, and the report id. The next run reads the latest such turn back as a
:class:`Memory` and resolves "that", "the first two", "it" or "last week" against it. Only
stored results are used, never the answer's words: the memory is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# How many findings a turn remembers (what the answer could have listed).
REMEMBERED_FINDINGS = 10
_FINDING_KEYS = (
    "kind", "title", "scope", "savings_usd", "current_cost_usd", "projected_cost_usd",
    "confidence", "affected_records", "evidence", "detail",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier message of the thread."""

    role: str  # "user" | "assistant"
    text: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime | None
    end: datetime | None  # exclusive
    label: str  # e.g. "the last 7 days of your data (2026-11-13 to 2026-11-19)"

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "label": self.label,
        }

    @staticmethod
    def from_dict(value: Any) -> Period | None:
        if not isinstance(value, dict):
            return None
        start, end = _when(value.get("start")), _when(value.get("end"))
        if start is None and end is None:
            return None
        return Period(start, end, str(value.get("label") or "the chosen period"))


@dataclass(frozen=True, slots=True)
class Memory:
    """The latest answered turn of the thread (empty for a thread's first message)."""

    intent: str | None = None
    focus: dict[str, str] = field(default_factory=dict)  # feature | model | provider -> name
    period: Period | None = None
    findings: tuple[dict[str, Any], ...] = ()  # as shown, top first
    referenced: tuple[int, ...] = ()  # indexes into ``findings`` the turn was about
    report_id: str | None = None
    budget_scope: str | None = None  # the scope of a budget the turn created
    turns: int = 0  # earlier answered turns in the thread

    @property
    def empty(self) -> bool:
        return self.turns == 0


def memory_of(turns: Sequence[Turn]) -> Memory:
    """The memory of a thread from its earlier turns (oldest first)."""
    answered = [t for t in turns if t.role == "assistant" and t.meta.get("intent")]
    if not answered:
        return Memory()
    last = answered[-1].meta
    findings = tuple(f for f in last.get("findings_shown") or () if isinstance(f, dict))
    referenced = tuple(
        i for i in last.get("referenced") or () if isinstance(i, int) and 0 <= i < len(findings)
    )
    focus = {
        k: str(v)
        for k, v in (last.get("focus") or {}).items()
        if k in ("feature", "model", "provider") and v
    }
    return Memory(
        intent=str(last.get("intent")),
        focus=focus,
        period=Period.from_dict(last.get("period")),
        findings=findings,
        referenced=referenced,
        report_id=last.get("report_id"),
        budget_scope=last.get("budget_scope"),
        turns=len(answered),
    )


def remembered(findings: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The findings a turn stores for the next one: the fields a follow-up may quote."""
    return [{k: f.get(k) for k in _FINDING_KEYS} for f in findings[:REMEMBERED_FINDINGS]]


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None
