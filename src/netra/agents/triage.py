"""Triage: what the user asks for, what it is about, and whether the organisation's data suffices.

Deterministic rules, no LLM: the intent decides which agents run, so it must be reproducible.
Each intent has weighted patterns; the best score wins, ties broken by :data:`PRIORITY`
(a request that asks both "where does it go" and "how do I cut it" gets the cost-reduction
answer, which contains the overview). A request matching nothing about AI spend is out of scope.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from netra.records.record import UsageRecord


class Intent(StrEnum):
    SPEND_OVERVIEW = "spend_overview"
    REDUCE_COST = "reduce_cost"
    COMPARE = "compare"
    EXPLAIN_FINDING = "explain_finding"
    BUDGET = "budget"
    OUT_OF_SCOPE = "out_of_scope"
    # Follow-ups only (``conversation.followup``): acting on what an earlier turn showed.
    WHAT_IF = "what_if"
    EXPLAIN_NUMBER = "explain_number"
    CREATE_BUDGET = "create_budget"


# Intents only a follow-up in a thread asks for (the rules below never pick them).
FOLLOWUP_ONLY = frozenset({Intent.WHAT_IF, Intent.EXPLAIN_NUMBER, Intent.CREATE_BUDGET})


class Sufficiency(StrEnum):
    SUFFICIENT = "sufficient"
    PARTIAL = "partial"
    INSUFFICIENT = "insufficient"


# Below these, findings rest on too little evidence to promise savings with confidence.
MIN_RECORDS = 200
MIN_DAYS = 7.0

PRIORITY: tuple[Intent, ...] = (
    Intent.EXPLAIN_FINDING,
    Intent.COMPARE,
    Intent.BUDGET,
    Intent.REDUCE_COST,
    Intent.SPEND_OVERVIEW,
)

# Finding kinds of API.md, with the words people use for them.
FINDING_WORDS: dict[str, tuple[str, ...]] = {
    "model_rightsizing": (
        r"right[- ]?siz\w*",
        "smaller model",
        "cheaper model",
        r"downgrad\w*",
        "overkill",
    ),
    "response_caching": (
        r"response cach\w*",
        "identical prompts?",
        "duplicate (?:prompts?|calls?|requests?)",
        "same prompts?",
        "repeated (?:prompts?|calls?|requests?)",
    ),
    "prompt_caching": (r"prompt cach\w*", "cache reads?", "cached input", "prefix(?:es)?"),
    "retry_waste": (
        r"retr(?:y|ies|ied)\w*",
        "failed calls?",
        "failures?",
        "errors?",
        "timeouts?",
        r"rate.?limit\w*",
    ),
    "provider_arbitrage": ("arbitrage", "same model cheaper", "cheaper (?:provider|elsewhere)"),
    "batch_eligible": (r"batch\w*",),
    "spend_anomaly": (r"anomal\w*", "spikes?", "spiked", "unusual", r"sudden\w*", "jump(?:ed|s)?"),
}

# intent -> [(alternatives, weight)]; each alternative is matched at word boundaries.
_PATTERNS: dict[Intent, list[tuple[tuple[str, ...], int]]] = {
    Intent.EXPLAIN_FINDING: [
        (
            (
                r"explain\w*",
                "why (?:is|was|are|did|does)",
                "what (?:is|does|are) (?:the|this|that)",
                "tell me (?:more )?about",
                "what do you mean",
                "how did you (?:find|compute|get)",
                "details? (?:of|on|about)",
                "flagged",
            ),
            2,
        ),
        ((r"finding\w*", r"recommendation\w*", r"anomal\w*", r"spike\w*"), 1),
    ],
    Intent.COMPARE: [
        (
            (
                r"compar\w*",
                "versus",
                r"vs\.?",
                "cheaper than",
                "better value",
                "which (?:provider|model|vendor)s?",
                "switch(?:ing)? (?:from|to)",
                "cost per (?:call|request|token|1k)",
                "head[- ]to[- ]head",
            ),
            3,
        ),
        (("providers?", "vendors?", "cheapest", "most expensive model"), 1),
    ],
    Intent.BUDGET: [
        (
            (
                "budgets?",
                r"forecast\w*",
                "run[- ]rate",
                "next month",
                "end of (?:the )?month",
                "project(?:ed|ion)? (?:spend|cost)",
                "on track",
                "afford",
                "spending limit",
                "over (?:our|my|the) limit",
                "stay (?:under|within|below)",
                "cap (?:our|my)",
            ),
            3,
        ),
    ],
    Intent.REDUCE_COST: [
        (
            (
                r"cut\w*",
                r"reduc\w*",
                "sav(?:e|es|ing|ings)",
                r"lower\w*",
                "cheaper",
                r"optimi[sz]\w*",
                r"wast\w*",
                "spend less",
                "trim",
                "shrink",
                "bring down",
                "get (?:it|costs?) down",
                "too (?:much|expensive|high)",
                "cost[- ]effective",
                r"efficien\w*",
                r"slash\w*",
            ),
            2,
        ),
        (("how (?:do|can|could|should) (?:i|we)", "what should (?:i|we)", "actions?", "plan"), 1),
    ],
    Intent.SPEND_OVERVIEW: [
        (
            (
                "where (?:is|are|does|did) (?:my|our|the) (?:money|spend|budget|dollars?|costs?)",
                "money going",
                r"break\s?down",
                r"summar\w*",
                "overview",
                "how much (?:did|do|have|are) (?:i|we)",
                r"what (?:am i|are we|did we|did i) spend\w*",
                "who (?:is|are) spending",
                r"biggest (?:spend\w*|cost\w*)",
                r"top (?:spend\w*|cost\w*|features?|models?)",
                "what (?:costs?|drives?)",
            ),
            2,
        ),
        (
            (
                r"spen[dt]\w*",
                "costs?",
                r"bill\w*",
                r"invoice\w*",
                "money",
                "usage",
                "tokens?",
                "llms?",
                "api calls?",
                "openai",
                "anthropic",
                r"gpt[-\w.]*",
                r"claude[-\w.]*",
                r"gemini[-\w.]*",
                "mistral",
                "models?",
                "features?",
                "dollars?",
                r"expens\w*",
            ),
            1,
        ),
    ],
}


def _words(alternatives: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")(?![\w])", re.IGNORECASE)


_COMPILED: dict[Intent, list[tuple[re.Pattern[str], int]]] = {
    intent: [(_words(alts), w) for alts, w in pats] for intent, pats in _PATTERNS.items()
}
_FINDING_COMPILED = {k: _words(alts) for k, alts in FINDING_WORDS.items()}


@dataclass(frozen=True, slots=True)
class Classification:
    intent: Intent
    scores: dict[str, int]
    finding_kinds: tuple[str, ...] = ()  # finding kinds the text names, most specific first
    focus: dict[str, str] = field(default_factory=dict)  # {"feature"|"model"|"provider": name}


def classify(
    text: str,
    *,
    features: Iterable[str] = (),
    models: Iterable[str] = (),
    providers: Iterable[str] = (),
) -> Classification:
    """Classify a request; names of the organisation's features/models/providers set the focus."""
    scores: dict[str, int] = {}
    for intent, patterns in _COMPILED.items():
        scores[intent.value] = sum(w * len(p.findall(text)) for p, w in patterns)
    kinds = tuple(k for k, p in _FINDING_COMPILED.items() if p.search(text))
    focus = _focus(text, features=features, models=models, providers=providers)
    if kinds and scores[Intent.EXPLAIN_FINDING.value] > 0:
        scores[Intent.EXPLAIN_FINDING.value] += 2
    best = max(PRIORITY, key=lambda i: (scores[i.value], -PRIORITY.index(i)))
    if scores[best.value] == 0:
        best = Intent.REDUCE_COST if kinds else Intent.OUT_OF_SCOPE
    return Classification(best, scores, kinds, focus)


def _focus(
    text: str, *, features: Iterable[str], models: Iterable[str], providers: Iterable[str]
) -> dict[str, str]:
    lowered = text.lower()
    focus: dict[str, str] = {}
    for key, names in (("feature", features), ("model", models), ("provider", providers)):
        # Longest first so "gpt-4o-mini" wins over "gpt-4o".
        for name in sorted({n for n in names if n}, key=len, reverse=True):
            if re.search(rf"(?<![\w-]){re.escape(name.lower())}(?![\w-])", lowered):
                focus[key] = name
                break
    return focus


@dataclass(frozen=True, slots=True)
class Coverage:
    """What the organisation's stored usage covers (the basis of the sufficiency judgement)."""

    records: int
    first: datetime | None
    last: datetime | None
    features: tuple[str, ...]
    models: tuple[str, ...]
    providers: tuple[str, ...]
    truncated: bool = False  # more records exist than the tier may analyse

    @property
    def days(self) -> float:
        if self.first is None or self.last is None:
            return 0.0
        return (self.last - self.first).total_seconds() / 86400

    def as_dict(self) -> dict[str, object]:
        return {
            "records": self.records,
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "days": round(self.days, 2),
            "features": len(self.features),
            "models": len(self.models),
            "providers": list(self.providers),
            "truncated": self.truncated,
        }


def coverage_of(records: Sequence[UsageRecord], *, limit: int | None = None) -> Coverage:
    if not records:
        return Coverage(0, None, None, (), (), ())
    stamps = [r.timestamp for r in records]
    return Coverage(
        records=len(records),
        first=min(stamps),
        last=max(stamps),
        features=tuple(sorted({r.feature for r in records if r.feature})),
        models=tuple(sorted({r.model for r in records})),
        providers=tuple(sorted({r.provider for r in records})),
        truncated=limit is not None and len(records) >= limit,
    )


def sufficiency(cov: Coverage) -> tuple[Sufficiency, str]:
    """The judgement and its reason, in words a user can act on."""
    if cov.records == 0:
        return Sufficiency.INSUFFICIENT, "no usage records have been uploaded yet"
    if cov.records < MIN_RECORDS:
        return (
            Sufficiency.PARTIAL,
            f"only {cov.records} records are stored (at least {MIN_RECORDS} make the findings "
            "dependable)",
        )
    if cov.days < MIN_DAYS:
        return (
            Sufficiency.PARTIAL,
            f"the records span only {cov.days:.1f} days (at least {MIN_DAYS:.0f} days show "
            "weekly patterns)",
        )
    return Sufficiency.SUFFICIENT, f"{cov.records} records over {cov.days:.1f} days"
