"""Conversation-aware prompt caching against ground truth built without the detector.

Multi-turn conversations are simulated (known turn lengths and gaps), then replayed through a
prompt cache written here from the provider's published rules (Anthropic: minimum cacheable
prompt 1,024 tokens, five-minute lifetime refreshed on every read, writes at 1.25x the input
price, reads at 0.1x). Unlike the detector, the replay sees the prompts' contents: the
simulated chats put a second cache breakpoint after their shared system prompt, and the cache
is shared by every conversation of the organisation, so the first turn of one chat reads the
system prompt another chat cached. The detector, which sees only the usage records (lengths,
times, conversation ids), must find a saving within +-25 % of the replayed one.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from netra.analysis.engine import analyze
from netra.analysis.frame import conform
from netra.pricing.catalogue import Catalogue
from netra.pricing.overrides import PriceOverrides

START = datetime(2026, 11, 2, 9, tzinfo=UTC)
DATA = Path(__file__).parents[2] / "data" / "azure_conversations.csv"
# claude-sonnet-4-5, USD per token
INPUT, READ, WRITE, OUTPUT = 3e-6, 0.3e-6, 3.75e-6, 15e-6
MIN_CACHEABLE, TTL = 1024, timedelta(minutes=5)


@dataclass
class Turn:
    conversation: str
    at: datetime
    segments: list[tuple[str, int]]  # the prompt: (content id, tokens), in order
    output: int

    @property
    def prompt(self) -> int:
        return sum(n for _, n in self.segments)


@dataclass
class PromptCache:
    """A provider's prompt cache: entries keyed by the exact content of a prompt prefix."""

    entries: dict[tuple[str, ...], datetime] = field(default_factory=dict)

    def call(self, turn: Turn) -> tuple[int, int]:
        """(tokens read, tokens written) for one call with a breakpoint at the prompt's end."""
        ids = tuple(i for i, _ in turn.segments)
        read = 0
        for cut in range(len(ids), 0, -1):  # the longest live cached prefix
            key = ids[:cut]
            if key in self.entries and self.entries[key] >= turn.at:
                read = sum(n for _, n in turn.segments[:cut])
                self.entries[key] = turn.at + TTL  # a read refreshes the lifetime
                break
        written = 0
        if turn.prompt >= MIN_CACHEABLE:
            written = turn.prompt - read
            self.entries[ids] = turn.at + TTL
            if ids[0] == "system" and turn.segments[0][1] >= MIN_CACHEABLE:
                self.entries[ids[:1]] = turn.at + TTL  # the breakpoint after the system prompt
        return read, written


def replayed_saving(turns: list[Turn]) -> tuple[float, float]:
    """(cost without caching, saving with the cache) in USD."""
    cache = PromptCache()
    plain = cached = 0.0
    for turn in sorted(turns, key=lambda t: t.at):
        read, written = cache.call(turn)
        plain += turn.prompt * INPUT + turn.output * OUTPUT
        cached += (
            read * READ + written * WRITE + (turn.prompt - read - written) * INPUT
        ) + turn.output * OUTPUT
    return plain, plain - cached


def simulate(
    conversations: int, seed: int, *, long_gaps: float, shared_system: bool = True
) -> list[Turn]:
    """Chats opening with a system prompt (one for all, or one per chat); each turn adds a
    user message, its prompt holds every earlier turn; ``long_gaps`` of the pauses outlast
    the cache lifetime."""
    rng = random.Random(seed)
    turns = []
    for c in range(conversations):
        at = START + timedelta(seconds=rng.uniform(0, 8 * 3600))
        system = "system" if shared_system else f"c{c}-system"
        history: list[tuple[str, int]] = [(system, 1_500)]
        for k in range(rng.randint(3, 14)):
            history = [*history, (f"c{c}-user{k}", rng.randint(30, 900))]
            output = rng.randint(80, 900)
            turns.append(Turn(f"c{c}", at, history, output))
            history = [*history, (f"c{c}-answer{k}", output)]
            pause = rng.uniform(6, 40) if rng.random() < long_gaps else rng.uniform(0.2, 4.5)
            at += timedelta(minutes=pause)
    return turns


def azure_turns() -> list[Turn]:
    """The derived Azure trace sample: real arrival times and token counts, each turn adding
    the request's context to its conversation."""
    turns = []
    history: dict[str, list[tuple[str, int]]] = {}
    with DATA.open(newline="") as handle:
        for row in csv.DictReader(handle):
            conv = row["conversation"]
            segments = [*history.get(conv, []), (f"{conv}-{row['turn']}", int(row["new_tokens"]))]
            at = START + timedelta(seconds=float(row["offset_s"]))
            output = int(row["output_tokens"])
            turns.append(Turn(conv, at, segments, output))
            history[conv] = [*segments, (f"{conv}-{row['turn']}-answer", output)]
    return turns


def usage(turns: list[Turn], **fields: Any) -> pl.DataFrame:
    rows = [
        {
            "timestamp": t.at,
            "provider": "anthropic",
            "model": "claude-sonnet-4-5",
            "input_tokens": t.prompt,
            "output_tokens": t.output,
            "feature": "assistant",
            "conversation_id": t.conversation,
            **fields,
        }
        for t in turns
    ]
    return conform(pl.DataFrame(rows, infer_schema_length=None))


def conversation_finding(df: pl.DataFrame) -> dict[str, Any] | None:
    report = analyze(df, catalogue=Catalogue(overrides=PriceOverrides()))
    found = [
        f
        for f in report["findings"]
        if f["kind"] == "prompt_caching" and f["evidence"].get("rule") == "conversation"
    ]
    assert len(found) <= 1
    return found[0] if found else None


def test_the_saving_matches_a_replay_of_simulated_chats() -> None:
    turns = simulate(120, seed=3, long_gaps=0.2)
    plain, saving = replayed_saving(turns)
    assert saving > 0.2 * plain  # chat history is most of the prompt: a large saving
    finding = conversation_finding(usage(turns))
    assert finding is not None
    assert abs(finding["current_cost_usd"] - plain) < 1e-6 * plain
    assert abs(finding["savings_usd"] - saving) <= 0.25 * saving
    assert finding["evidence"]["conversations"] == 120


def test_the_saving_matches_a_replay_of_the_azure_derived_workload() -> None:
    turns = azure_turns()
    plain, saving = replayed_saving(turns)
    assert saving > 0.02 * plain
    finding = conversation_finding(usage(turns))
    assert finding is not None
    assert abs(finding["savings_usd"] - saving) <= 0.25 * saving


def test_no_finding_when_every_pause_outlives_the_cache() -> None:
    """Writes cost more than input and nothing is ever read again: caching would lose money."""
    turns = simulate(80, seed=5, long_gaps=1.0, shared_system=False)
    _, saving = replayed_saving(turns)
    assert saving < 0
    assert conversation_finding(usage(turns)) is None


def test_no_finding_when_the_records_already_read_the_history_from_the_cache() -> None:
    turns = simulate(80, seed=7, long_gaps=0.1)
    cache = PromptCache()
    rows = []
    for turn in sorted(turns, key=lambda t: t.at):
        read, written = cache.call(turn)
        rows.append((turn, read, written))
    df = pl.concat([usage([t], cached_input_tokens=r, cache_write_tokens=w) for t, r, w in rows])
    assert conversation_finding(df) is None


def test_aggregated_conversation_rows_are_left_out_and_said() -> None:
    turns = simulate(60, seed=11, long_gaps=0.2)
    daily = usage(turns[:5]).with_columns(pl.lit(40, pl.Int64).alias("requests"))
    finding = conversation_finding(pl.concat([usage(turns), daily]))
    assert finding is not None
    assert finding["evidence"]["aggregated_calls_left_out"] == 200
    assert "aggregated rows were left out" in finding["detail"]


def test_response_caching_counts_repeats_across_conversations() -> None:
    """The response-side counterpart: many chats open with the same question."""
    turns = simulate(60, seed=13, long_gaps=0.2)
    first_turns = pl.int_range(pl.len()).over("conversation_id") < 3
    df = (
        usage(turns)
        .sort("timestamp")
        .filter(first_turns)
        .with_columns(
            pl.when(pl.col("conversation_id").is_first_distinct())
            .then(pl.lit("same-opening-question"))
            .otherwise(pl.format("p{}", pl.int_range(pl.len())))
            .alias("prompt_hash")
        )
    )
    report = analyze(df, catalogue=Catalogue(overrides=PriceOverrides()))
    [found] = [f for f in report["findings"] if f["kind"] == "response_caching"]
    assert found["evidence"]["repeats"] == 59  # the first chat's opening was answered once
    assert found["evidence"]["repeats_across_conversations"] == 59
    assert found["evidence"]["conversations_with_repeats"] == 59
    assert "another conversation" in found["detail"]
