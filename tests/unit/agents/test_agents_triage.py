"""Triage: intents on a table of phrasings, focus on the org's names, data sufficiency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from netra.agents.triage import (
    FOLLOWUP_ONLY,
    MIN_DAYS,
    MIN_RECORDS,
    Intent,
    Sufficiency,
    classify,
    coverage_of,
    sufficiency,
)
from support.agent_fakes import records

OV, R, C, E, B, X = (
    Intent.SPEND_OVERVIEW,
    Intent.REDUCE_COST,
    Intent.COMPARE,
    Intent.EXPLAIN_FINDING,
    Intent.BUDGET,
    Intent.OUT_OF_SCOPE,
)

PHRASINGS: list[tuple[str, Intent]] = [
    # spend overview
    ("Where is my money going?", OV),
    ("Give me a breakdown of our LLM spend", OV),
    ("How much did we spend on OpenAI last month?", OV),
    ("What are we spending on tokens?", OV),
    ("Show me an overview of our AI costs", OV),
    ("Which features cost the most?", OV),
    ("top spenders by model please", OV),
    ("summarise my usage", OV),
    # reduce cost
    ("where is my money going and how do I cut it?", R),
    ("How can we reduce our LLM bill?", R),
    ("Help me save money on gpt-4o", R),
    ("Our AI costs are too high, what should we do?", R),
    ("optimize spend for the support bot", R),
    ("Is there any waste in our API calls?", R),
    ("Make it cheaper", R),
    ("How do I lower the cost of summaries?", R),
    ("Trim our Anthropic spend", R),
    # compare
    ("Compare OpenAI and Anthropic for us", C),
    ("gpt-4o vs claude-sonnet-4-5: which is better value?", C),
    ("Which provider is cheapest for our traffic?", C),
    ("Should we be switching from gpt-4o to gemini?", C),
    ("What is our cost per request on each model compared to the others?", C),
    # explain a finding
    ("Explain the response caching finding", E),
    ("Why is retry waste flagged?", E),
    ("Tell me more about the spend anomaly on Tuesday", E),
    ("What does the batch finding mean?", E),
    ("Why was prompt caching recommended?", E),
    ("How did you compute the right-sizing savings?", E),
    # budget
    ("Will we stay under a $5,000 budget this month?", B),
    ("What's our forecast for next month?", B),
    ("what is the monthly run rate?", B),
    ("Can we afford to double traffic on the current plan budget?", B),
    ("Are we on track with our AI budget?", B),
    # out of scope
    ("What's the weather in Paris?", X),
    ("Write me a poem about the sea", X),
    ("hello", X),
    ("Who won the football match yesterday?", X),
    ("Translate 'good morning' into German", X),
]


def test_the_table_is_big_enough() -> None:
    assert len(PHRASINGS) >= 30
    assert {intent for _, intent in PHRASINGS} == set(Intent) - FOLLOWUP_ONLY


@pytest.mark.parametrize(("text", "intent"), PHRASINGS)
def test_intent(text: str, intent: Intent) -> None:
    got = classify(text)
    assert got.intent is intent, (text, got.scores)


def test_classification_is_deterministic() -> None:
    a = classify("where is my money going and how do I cut it?")
    b = classify("where is my money going and how do I cut it?")
    assert a == b


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Explain the response caching finding", "response_caching"),
        ("Why is retry waste flagged?", "retry_waste"),
        ("why was the batch finding made", "batch_eligible"),
        ("explain the spike on Tuesday", "spend_anomaly"),
        ("what is the right-sizing finding", "model_rightsizing"),
        ("explain prompt caching", "prompt_caching"),
        ("explain the arbitrage finding", "provider_arbitrage"),
    ],
)
def test_finding_kind_named(text: str, kind: str) -> None:
    got = classify(text)
    assert kind in got.finding_kinds
    assert got.intent is Intent.EXPLAIN_FINDING


def test_focus_on_the_orgs_own_names_longest_first() -> None:
    got = classify(
        "How do I cut the cost of support-chat on gpt-4o-mini?",
        features=["search", "support-chat"],
        models=["gpt-4o", "gpt-4o-mini"],
        providers=["openai"],
    )
    assert got.intent is Intent.REDUCE_COST
    assert got.focus == {"feature": "support-chat", "model": "gpt-4o-mini"}


def test_focus_ignores_partial_words() -> None:
    got = classify("reduce research costs", features=["search"])
    assert got.focus == {}


def test_no_usage_is_insufficient() -> None:
    verdict, reason = sufficiency(coverage_of([]))
    assert verdict is Sufficiency.INSUFFICIENT
    assert "no usage" in reason


def test_too_few_records_is_partial() -> None:
    cov = coverage_of(records(MIN_RECORDS - 1, days=30))
    verdict, reason = sufficiency(cov)
    assert verdict is Sufficiency.PARTIAL
    assert str(MIN_RECORDS - 1) in reason


def test_too_short_a_period_is_partial() -> None:
    cov = coverage_of(records(MIN_RECORDS * 2, days=MIN_DAYS - 1))
    verdict, reason = sufficiency(cov)
    assert verdict is Sufficiency.PARTIAL
    assert "days" in reason


def test_enough_records_over_enough_days_is_sufficient() -> None:
    cov = coverage_of(records(MIN_RECORDS, days=MIN_DAYS + 1))
    assert sufficiency(cov)[0] is Sufficiency.SUFFICIENT
    assert cov.features == ("search", "summaries", "support-chat")
    assert cov.providers == ("anthropic", "openai")


def test_coverage_marks_truncation_at_the_tier_limit() -> None:
    recs = records(50)
    assert coverage_of(recs, limit=50).truncated
    assert not coverage_of(recs, limit=51).truncated
    assert coverage_of(recs).first == datetime(2025, 3, 1, tzinfo=UTC)
    assert coverage_of(recs).days == pytest.approx(timedelta(days=14).total_seconds() / 86400)
