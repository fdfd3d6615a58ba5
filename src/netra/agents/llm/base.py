"""The LLM provider interface: turn a brief (numbers from the engine) into the answer's words."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class AnswerBrief:
    """Everything an answer may say. The numbers are the engine's, never recomputed."""

    question: str
    intent: str
    sufficiency: str  # sufficient | partial | insufficient
    sufficiency_reason: str
    coverage: dict[str, Any] = field(default_factory=dict)
    focus: dict[str, str] = field(default_factory=dict)
    finding_kinds: tuple[str, ...] = ()
    report: dict[str, Any] | None = None
    top_spenders: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by -> rows
    breakdowns: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by -> rows
    trend: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)  # ranked, top first
    plan: list[dict[str, Any]] = field(default_factory=list)  # ActionStep.as_dict()
    report_id: str | None = None  # the stored report
    tier: str = "free"
    max_records: int = 0
    # A follow-up in a thread: its kind, the actions' tool results, the findings an earlier
    # turn showed (``references`` are 1-based into them), the asked-about period.
    followup: str | None = None
    actions: dict[str, Any] = field(default_factory=dict)
    remembered: list[dict[str, Any]] = field(default_factory=list)
    references: list[int] = field(default_factory=list)
    period: dict[str, Any] | None = None


class AnswerWriter(Protocol):
    name: str

    async def write(self, brief: AnswerBrief) -> str:
        """The answer's text for ``brief``; raises on failure (the caller degrades)."""
        ...


class IntentClassifier(Protocol):
    async def classify(self, text: str, labels: Sequence[str]) -> str | None:
        """One of ``labels`` for ``text`` (None: none fits); raises on failure."""
        ...


class LLMError(Exception):
    """The LLM provider failed. ``transient`` says whether a retry may help."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient
