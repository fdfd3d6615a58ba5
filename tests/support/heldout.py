"""The held-back phrasings (``tests/data/*_heldout.jsonl``): written once, never tuned against.
Scores the triage rules and the follow-up resolution on them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from netra.agents.conversation.followup import Names, resolve
from netra.agents.conversation.memory import Memory
from netra.agents.triage import classify

DATA = Path(__file__).resolve().parent.parent / "data"
FEATURES = ("support-chat", "search-assist", "contract-review", "summarize", "ticket-triage")
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "claude-haiku-4-5", "gemini-2.5-flash")
PROVIDERS = ("openai", "anthropic", "google", "azure", "bedrock")


@dataclass
class Score:
    right: int
    total: int
    misses: list[tuple[str, str, str]]  # text, expected, got

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 0.0


def _load(name: str) -> list[dict[str, str]]:
    lines = (DATA / name).read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def triage_score() -> Score:
    rows = _load("triage_heldout.jsonl")
    misses = []
    for row in rows:
        got = classify(row["text"], features=FEATURES, models=MODELS, providers=PROVIDERS)
        if got.intent.value != row["intent"]:
            misses.append((row["text"], row["intent"], got.intent.value))
    return Score(len(rows) - len(misses), len(rows), misses)


def followup_score() -> Score:
    """After an answer about gpt-4o that listed three findings."""
    from datetime import UTC, datetime

    findings = tuple(
        {"title": f"finding {i}", "scope": {"feature": f, "model": "gpt-4o"}, "savings_usd": 1.0}
        for i, f in enumerate(FEATURES[:3])
    )
    memory = Memory(intent="reduce_cost", focus={"model": "gpt-4o"}, findings=findings, turns=1)
    names = Names(FEATURES, MODELS, PROVIDERS, datetime(2026, 11, 20, tzinfo=UTC))
    rows = _load("followups_heldout.jsonl")
    misses = []
    for row in rows:
        kind = resolve(row["text"], memory, names).kind
        got = kind.value if kind else "none"
        if got != row["kind"]:
            misses.append((row["text"], row["kind"], got))
    return Score(len(rows) - len(misses), len(rows), misses)
