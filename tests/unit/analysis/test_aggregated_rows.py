"""Aggregated rows (``requests`` > 1): the same calls as single rows and as hourly or daily
rollups. Totals, breakdowns and every count agree; detectors that need single calls say so and
never conclude more than the rollup shows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl
import pytest

from netra.analysis.engine import analyze
from netra.analysis.rollups import roll_up
from netra.pricing.catalogue import Catalogue
from netra.pricing.overrides import PriceOverrides
from support.usage_rows import START, calls, frame


def rollup(df: pl.DataFrame, every: str = "1h", *, keep_hash: bool = False) -> pl.DataFrame:
    """A provider-style usage report: no end-user, optionally the prompt hash."""
    keys = ("provider", "model", "feature", "status", "batch")
    return roll_up(df, every, (*keys, "prompt_hash") if keep_hash else keys)


def report(df: pl.DataFrame) -> dict[str, Any]:
    return analyze(df, catalogue=Catalogue(overrides=PriceOverrides()))


def kind(rep: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [f for f in rep["findings"] if f["kind"] == name]


def _mixed() -> pl.DataFrame:
    failing = calls(200, feature="report", every=timedelta(minutes=2))
    for row in failing[::3]:
        row["status"] = "error"
    long = calls(
        60, feature="legal", provider="anthropic", model="claude-sonnet-4-5", input_tokens=150_000
    )
    return frame(failing, long, calls(300, feature="chat", output_tokens=400))


def test_totals_breakdowns_and_counts_are_the_same_on_rollups() -> None:
    single = _mixed()
    for every in ("1h", "1d"):
        rolled = rollup(single, every)
        assert rolled.height < single.height / 3
        a, b = report(single), report(rolled)
        assert b["total_cost_usd"] == pytest.approx(a["total_cost_usd"], rel=1e-9)
        assert b["requests"] == a["requests"] == single.height
        assert b["records"] == rolled.height
        for name in ("by_model", "by_feature", "by_day"):
            calls_a = {r["key"]: (r["requests"], r["cost_usd"]) for r in a["breakdown"][name]}
            calls_b = {r["key"]: (r["requests"], r["cost_usd"]) for r in b["breakdown"][name]}
            assert calls_a.keys() == calls_b.keys()
            for key, (n, cost) in calls_a.items():
                assert calls_b[key][0] == n and calls_b[key][1] == pytest.approx(cost, abs=2e-6)
        assert any("aggregated" in note for note in b["pricing_notes"])


def test_a_daily_row_of_ordinary_calls_is_not_priced_as_long_context() -> None:
    """The bug this fixes: 60 calls of 150k tokens are 9M tokens a day; none is over 200k."""
    rep = report(rollup(_mixed(), "1d"))
    [legal] = [r for r in rep["breakdown"]["by_feature"] if r["key"] == "legal"]
    assert legal["cost_usd"] == pytest.approx(60 * (150_000 * 3e-6 + 200 * 15e-6), rel=1e-9)


def test_retry_waste_counts_failed_calls_in_rollups_and_says_what_it_cannot_trace() -> None:
    [single] = kind(report(_mixed()), "retry_waste")
    [rolled] = kind(report(rollup(_mixed())), "retry_waste")
    assert rolled["evidence"]["failed"] == single["evidence"]["failed"] == 67
    assert rolled["affected_records"] == single["affected_records"] == 67
    assert rolled["savings_usd"] == pytest.approx(single["savings_usd"], rel=1e-6)
    assert (
        rolled["evidence"]["aggregated_calls"] > 0 and single["evidence"]["aggregated_calls"] == 0
    )
    assert "cannot be traced" in rolled["detail"]


def _faq() -> pl.DataFrame:
    rows = calls(240, feature="faq", every=timedelta(minutes=3))
    for i, row in enumerate(rows):
        row["prompt_hash"] = f"q{i % 8}"
    return frame(rows)


def test_response_caching_counts_repeats_inside_rollup_rows_with_a_prompt_hash() -> None:
    [single] = kind(report(_faq()), "response_caching")
    [rolled] = kind(report(rollup(_faq(), keep_hash=True)), "response_caching")
    assert single["evidence"]["repeats"] == rolled["evidence"]["repeats"] == 240 - 8
    assert rolled["savings_usd"] == pytest.approx(single["savings_usd"], rel=1e-6)


def test_response_caching_sees_nothing_in_rollups_without_a_prompt_hash() -> None:
    assert kind(report(rollup(_faq())), "response_caching") == []


def test_rightsizing_on_rollups_uses_the_mean_and_says_the_distribution_is_unseen() -> None:
    df = frame(calls(200, feature="triage", output_tokens=5, every=timedelta(minutes=2)))
    [single] = kind(report(df), "model_rightsizing")
    [rolled] = kind(report(rollup(df)), "model_rightsizing")
    assert single["confidence"] == "high" and rolled["confidence"] == "low"
    assert rolled["evidence"]["percentiles_from_single_calls"] is False
    assert rolled["evidence"]["mean_output_tokens_per_call"] == 5
    assert "not seen" in rolled["detail"]
    assert rolled["savings_usd"] == pytest.approx(single["savings_usd"], rel=1e-6)


def test_rightsizing_never_concludes_from_a_mean_hiding_long_answers() -> None:
    rows = calls(200, feature="mixed", output_tokens=5, every=timedelta(minutes=2))
    for row in rows[::10]:
        row["output_tokens"] = 400  # mean 44.5 per call: long answers are in there
    assert kind(report(rollup(frame(rows))), "model_rightsizing") == []


def test_prompt_caching_on_rollups_is_a_lower_bound_of_the_single_call_saving() -> None:
    df = frame(
        calls(
            600,
            feature="review",
            provider="anthropic",
            model="claude-sonnet-4-5",
            input_tokens=8000,
            output_tokens=300,
            every=timedelta(minutes=1),
        )
    )
    [single] = kind(report(df), "prompt_caching")
    [hourly] = kind(report(rollup(df)), "prompt_caching")
    assert 0 < hourly["savings_usd"] <= single["savings_usd"]
    # charged 12 writes an hour (one per five-minute window) where one write was enough
    assert hourly["savings_usd"] >= 0.5 * single["savings_usd"]
    assert hourly["evidence"]["aggregated_calls"] == 600


def _nightly() -> pl.DataFrame:
    rows = []
    for day in range(10):
        rows += calls(
            20,
            feature="enrich",
            model="gpt-4o-mini",
            start=START + timedelta(days=day, hours=2),
            every=timedelta(minutes=5),
            users=0,
        )
    return frame(rows)


def test_batch_sees_the_hour_in_hourly_rollups_but_not_in_daily_ones() -> None:
    [hourly] = kind(report(rollup(_nightly())), "batch_eligible")
    assert hourly["affected_records"] == 200
    assert kind(report(rollup(_nightly(), "1d")), "batch_eligible") == []


def test_reconciliation_explains_the_gap_by_cause() -> None:
    batch_price = 0.5 * (1000 * 2.5e-6 + 200 * 10e-6)  # catalogue has no batch price then
    early = START - timedelta(days=300)
    unflagged = calls(100, feature="nightly", start=early, cost_usd=batch_price)
    writes = calls(
        100,
        feature="docs",
        start=early,
        provider="anthropic",
        model="claude-sonnet-4-5",
        input_tokens=10_000,
        output_tokens=0,
        cache_write_tokens=10_000,
        cost_usd=10_000 * 6e-6,  # one-hour writes: 2x $3/MTok
    )
    contract = calls(100, feature="bulk", start=early, model="gpt-4o-mini", input_tokens=100_000)
    for row in contract:
        row["cost_usd"] = 0.8 * (100_000 * 0.15e-6 + 200 * 0.6e-6)
    rep = report(frame(unflagged, writes, contract))
    causes = {
        f["scope"]["model"]: {c["cause"]: c for c in f["evidence"]["reconciliation"]}
        for f in kind(rep, "cost_mismatch")
    }
    assert causes["gpt-4o"]["batch_not_flagged"]["calls"] == 100
    assert causes["gpt-4o"]["batch_not_flagged"]["gap_usd"] == pytest.approx(-100 * batch_price)
    assert causes["claude-sonnet-4-5"]["one_hour_cache_writes"]["gap_usd"] == pytest.approx(
        100 * 10_000 * (6e-6 - 3.75e-6)
    )
    price = causes["gpt-4o-mini"]["price_difference"]
    assert price["billed_to_catalogue_ratio"] == pytest.approx(0.8)
    assert all(len(c) == 1 for c in causes.values())


def test_roll_up_keeps_billed_and_unbilled_costs_apart_and_latency_per_call() -> None:
    billed = calls(10, feature="a", cost_usd=0.01, latency_ms=100.0, every=timedelta(minutes=1))
    unbilled = calls(10, feature="a", latency_ms=300.0, every=timedelta(minutes=1))
    rolled = roll_up(frame(billed, unbilled), "1h", ("provider", "model", "feature"))
    assert rolled.height == 2 and rolled["requests"].to_list() == [10, 10]
    assert sorted(rolled["cost_usd"].to_list(), key=lambda c: c is None) == [
        pytest.approx(0.1),
        None,
    ]
    assert sorted(rolled["latency_ms"].to_list()) == [100.0, 300.0]
    a, b = report(frame(billed, unbilled)), report(rolled)
    assert b["total_cost_usd"] == pytest.approx(a["total_cost_usd"], rel=1e-9)
