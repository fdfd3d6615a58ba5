"""Each detector on hand-built cases: one that must fire, near-misses that must not."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl

from netra.analysis.engine import analyze
from support.usage_rows import START, calls, frame


def findings(df: pl.DataFrame, kind: str) -> list[dict[str, Any]]:
    return [f for f in analyze(df)["findings"] if f["kind"] == kind]


def _money_is_consistent(f: dict[str, Any]) -> None:
    assert 0 < f["savings_usd"] <= f["current_cost_usd"]
    assert abs(f["current_cost_usd"] - f["projected_cost_usd"] - f["savings_usd"]) < 1e-5


# --- retry_waste ---------------------------------------------------------------------------


def test_retry_waste_fires_on_a_high_failure_rate() -> None:
    rows = calls(100, feature="report")
    for i, row in enumerate(rows[:25]):
        row["status"] = "timeout" if i % 2 else "error"
    for i in range(1, 25):  # one retry storm: each failure retried by the next call
        rows[i]["retry_of"] = rows[i - 1]["request_id"]
    [f] = findings(frame(rows), "retry_waste")
    assert f["scope"] == {"feature": "report", "provider": "openai", "model": "gpt-4o"}
    assert f["affected_records"] == 25
    assert f["evidence"]["longest_retry_run"] == 24 and f["evidence"]["retries"] == 24
    failed_cost = 25 * (1000 * 2.5e-6 + 200 * 10e-6)
    # savings: the failed calls above a 2 % baseline (2 of 100 calls)
    assert abs(f["savings_usd"] - failed_cost * (1 - 2 / 25)) < 1e-6
    _money_is_consistent(f)


def test_retry_waste_near_misses() -> None:
    low_rate = calls(300, feature="a")
    for row in low_rate[:27]:  # 9 %: under the 10 % rate
        row["status"] = "error"
    few = calls(100, feature="b")
    for row in few[:15]:  # 15 %, but only 15 failures
        row["status"] = "timeout"
    assert findings(frame(low_rate, few), "retry_waste") == []


def test_retry_waste_fires_on_retries_of_calls_that_had_succeeded() -> None:
    rows = calls(100, feature="slow")
    for i in range(1, 30, 2):  # 15 calls retry the (successful) call before them
        rows[i]["retry_of"] = rows[i - 1]["request_id"]
    [f] = findings(frame(rows), "retry_waste")
    assert f["evidence"]["redundant_retries"] == 15 and f["evidence"]["failed"] == 0
    assert f["affected_records"] == 15
    assert abs(f["savings_usd"] - 15 * (1000 * 2.5e-6 + 200 * 10e-6)) < 1e-6
    _money_is_consistent(f)


def test_retries_of_failed_calls_are_not_redundant() -> None:
    rows = calls(100, feature="flaky")
    for i in range(0, 16, 2):  # 8 failures (8 %), each retried once, successfully
        rows[i]["status"] = "timeout"
        rows[i + 1]["retry_of"] = rows[i]["request_id"]
    few = calls(100, feature="few")
    for i in range(1, 9):  # 8 redundant retries: under the floor of 10
        few[i]["retry_of"] = few[0]["request_id"]
    assert findings(frame(rows, few), "retry_waste") == []


# --- response_caching ----------------------------------------------------------------------


def test_response_caching_fires_on_repeated_prompts() -> None:
    rows = calls(100, feature="faq", every=timedelta(minutes=10))
    for row in rows[::3]:
        row["prompt_hash"] = "same-question"
    [f] = findings(frame(rows), "response_caching")
    repeats = len(rows[::3]) - 1  # the first one has to be answered
    assert f["affected_records"] == repeats
    assert abs(f["savings_usd"] - repeats * (1000 * 2.5e-6 + 200 * 10e-6)) < 1e-6
    assert f["projected_cost_usd"] == 0.0
    _money_is_consistent(f)


def test_response_caching_near_misses() -> None:
    rare = calls(200, feature="a", every=timedelta(minutes=10))
    for row in rare[:25]:  # 24 repeats of 200: 12 % < 15 %
        row["prompt_hash"] = "dup"
    stale = calls(60, feature="b", every=timedelta(hours=25))  # repeats, but a day apart
    for row in stale:
        row["prompt_hash"] = "daily"
    failed = calls(60, feature="c", status="error")  # failed answers cannot be cached
    for row in failed:
        row["prompt_hash"] = "x"
    assert findings(frame(rare, stale, failed), "response_caching") == []


# --- model_rightsizing ---------------------------------------------------------------------


def test_rightsizing_proposes_the_cheapest_model_one_tier_down() -> None:
    [f] = findings(frame(calls(100, feature="triage", output_tokens=5)), "model_rightsizing")
    assert f["scope"] == {"feature": "triage", "provider": "openai", "model": "gpt-4o"}
    assert f["evidence"]["proposed_model"] == "gpt-4o-mini"
    assert f["confidence"] == "high"
    current = 100 * (1000 * 2.5e-6 + 5 * 10e-6)
    projected = 100 * (1000 * 0.15e-6 + 5 * 0.6e-6)
    assert abs(f["current_cost_usd"] - current) < 1e-6
    assert abs(f["projected_cost_usd"] - projected) < 1e-6
    _money_is_consistent(f)


def test_rightsizing_near_misses() -> None:
    long_answers = calls(100, feature="chat", output_tokens=200)
    p90_just_over = calls(100, feature="almost", output_tokens=10)
    for row in p90_just_over[:15]:  # p90 of output = 65 tokens > 64
        row["output_tokens"] = 65
    smallest_tier = calls(100, feature="router", model="gpt-4.1-nano", output_tokens=3)
    unknown_tier = calls(100, feature="x", provider="groq", model="llama-3.1-8b-instant")
    too_few = calls(40, feature="rare", output_tokens=3)
    df = frame(long_answers, p90_just_over, smallest_tier, unknown_tier, too_few)
    assert findings(df, "model_rightsizing") == []


# --- provider_arbitrage --------------------------------------------------------------------


def test_arbitrage_fires_when_the_same_model_is_cheaper_elsewhere() -> None:
    rows = calls(100, provider="bedrock", model="anthropic.claude-sonnet-4-5-20250929-v1:0")
    [f] = findings(frame(rows), "provider_arbitrage")
    assert f["scope"]["provider"] == "bedrock"
    assert f["evidence"]["proposed_provider"] in ("anthropic", "bedrock", "google")
    assert abs(f["savings_usd"] / f["current_cost_usd"] - (1 - 3.0 / 3.3)) < 1e-3
    _money_is_consistent(f)


def test_arbitrage_near_miss_same_price_elsewhere() -> None:
    rows = calls(100, provider="azure", model="gpt-4o")  # openai sells it at the same price
    assert findings(frame(rows), "provider_arbitrage") == []


# --- prompt_caching ------------------------------------------------------------------------


def _contract(**kw: Any) -> list[dict[str, Any]]:
    base: dict[str, Any] = {
        "feature": "review",
        "provider": "anthropic",
        "model": "claude-sonnet-4-5",
        "input_tokens": 8000,
        "output_tokens": 300,
        "every": timedelta(minutes=1),
    }
    base.update(kw)
    return calls(100, **base)


def test_prompt_caching_fires_net_of_cache_writes() -> None:
    [f] = findings(frame(_contract()), "prompt_caching")
    prefix = int(8000 * 0.8)
    assert f["evidence"]["estimated_prefix_tokens"] == prefix
    assert f["evidence"]["cache_writes"] == 1  # one call a minute: the cache stays warm
    read = (8000 - prefix) * 3e-6 + prefix * 0.3e-6 + 300 * 15e-6
    write = (8000 - prefix) * 3e-6 + prefix * 3.75e-6 + 300 * 15e-6
    assert abs(f["projected_cost_usd"] - (99 * read + write)) < 1e-6
    _money_is_consistent(f)


def test_prompt_caching_near_misses() -> None:
    cached = _contract(feature="a", cached_input_tokens=4000)
    short = _contract(feature="b", input_tokens=1200)  # prefix 960 < 1024 tokens
    cold = _contract(feature="c", every=timedelta(minutes=30))  # every call would write
    assert findings(frame(cached, short, cold), "prompt_caching") == []


# --- batch_eligible ------------------------------------------------------------------------


def _nightly(**kw: Any) -> list[dict[str, Any]]:
    rows = []
    for day in range(10):
        rows += calls(
            10,
            feature=kw.pop("feature", "enrich"),
            model="gpt-4o-mini",
            start=START + timedelta(days=day, hours=2),
            every=timedelta(minutes=5),
            users=kw.get("users", 0),
        )
    return rows


def test_batch_eligible_fires_on_a_nightly_job() -> None:
    [f] = findings(frame(_nightly()), "batch_eligible")
    assert f["scope"] == {"feature": "enrich", "provider": "openai", "model": "gpt-4o-mini"}
    assert abs(f["savings_usd"] / f["current_cost_usd"] - 0.5) < 1e-3  # batch is half price
    _money_is_consistent(f)


def test_batch_near_misses() -> None:
    people = _nightly(feature="people", users=30)  # same timing, but for people
    spread = calls(100, feature="spread", model="gpt-4o-mini", every=timedelta(minutes=97))
    already = _nightly(feature="done")
    for row in already:
        row["batch"] = True
    assert findings(frame(people, spread, already), "batch_eligible") == []


# --- spend_anomaly -------------------------------------------------------------------------


def _daily(calls_per_day: list[int]) -> list[dict[str, Any]]:
    rows = []
    for day, n in enumerate(calls_per_day):
        rows += calls(n, feature="search", start=START + timedelta(days=day, hours=8))
    return rows


def test_spend_anomaly_fires_on_a_runaway_day() -> None:
    [f] = findings(frame(_daily([10] * 9 + [60] + [10] * 10)), "spend_anomaly")
    assert f["scope"] == {
        "feature": "search",
        "day": (START + timedelta(days=9)).date().isoformat(),
    }
    assert f["affected_records"] == 60
    assert abs(f["savings_usd"] - f["current_cost_usd"] * 50 / 60) < 1e-6  # the excess
    _money_is_consistent(f)


def test_spend_anomaly_near_misses() -> None:
    busy_day = _daily([10] * 9 + [35] + [10] * 10)  # 3.5x: under 4x
    short_history = _daily([10] * 4 + [80])  # 5 days of history only
    for row in short_history:
        row["feature"] = "young"
    assert findings(frame(busy_day, short_history), "spend_anomaly") == []


# --- cost_mismatch -------------------------------------------------------------------------


def test_cost_mismatch_only_when_large() -> None:
    price = 1000 * 2.5e-6 + 200 * 10e-6
    over = calls(100, feature="a", cost_usd=price * 1.5)
    exact = calls(100, feature="b", model="gpt-4o-mini", cost_usd=1000 * 0.15e-6 + 200 * 0.6e-6)
    report = analyze(frame(over, exact))
    [f] = [f for f in report["findings"] if f["kind"] == "cost_mismatch"]
    assert f["scope"] == {"provider": "openai", "model": "gpt-4o"}
    assert f["savings_usd"] == 0.0
    assert abs(f["evidence"]["difference_pct"] - 50.0) < 0.01
    assert report["projected_savings_usd"] == 0.0
