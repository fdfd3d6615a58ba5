"""The report's shape (API.md), its totals, breakdowns, period and forecast."""

from __future__ import annotations

import json
from datetime import timedelta

import polars as pl
import pytest

from netra.analysis import breakdowns
from netra.analysis.engine import analyze, summary
from netra.analysis.frame import SCHEMA, empty_frame, frame_from_records
from netra.records.record import FIELDS, UsageRecord
from support.usage_rows import START, calls, frame

TOP_KEYS = {
    "period",
    "records",
    "priced_records",
    "unpriced",
    "total_cost_usd",
    "breakdown",
    "findings",
    "projected_savings_usd",
    "projected_savings_pct",
    "forecast",
    "requests",
    "pricing_notes",
}
FINDING_KEYS = {
    "kind",
    "title",
    "detail",
    "scope",
    "affected_records",
    "current_cost_usd",
    "projected_cost_usd",
    "savings_usd",
    "confidence",
    "evidence",
}


def _workload() -> pl.DataFrame:
    return frame(
        calls(100, feature="triage", output_tokens=5),  # right-sizing
        calls(50, feature="chat", provider="anthropic", model="claude-haiku-4-5"),
        calls(7, feature=None, provider="selfhosted", model="acme-1"),
    )


def test_report_shape_is_the_contract_and_json_serialisable() -> None:
    report = analyze(_workload())
    assert set(report) == TOP_KEYS
    assert set(report["breakdown"]) == {"by_model", "by_provider", "by_feature", "by_day"}
    assert set(report["period"]) == {"start", "end"}
    assert "monthly_run_rate_usd" in report["forecast"]
    assert report["findings"] and all(set(f) == FINDING_KEYS for f in report["findings"])
    assert {f["confidence"] for f in report["findings"]} <= {"high", "medium", "low"}
    json.dumps(report, allow_nan=False)


def test_totals_breakdowns_and_unpriced() -> None:
    report = analyze(_workload())
    gpt4o = 100 * (1000 * 2.5e-6 + 5 * 10e-6)
    haiku = 50 * (1000 * 1e-6 + 200 * 5e-6)
    assert report["total_cost_usd"] == pytest.approx(gpt4o + haiku, abs=1e-6)
    assert (report["records"], report["priced_records"]) == (157, 150)
    assert report["unpriced"] == [{"provider": "selfhosted", "model": "acme-1", "records": 7}]
    for name in ("by_model", "by_provider", "by_feature", "by_day"):
        rows = report["breakdown"][name]
        assert sum(r["records"] for r in rows) == 157
        priced = sum(r["cost_usd"] or 0.0 for r in rows)
        assert priced == pytest.approx(report["total_cost_usd"], abs=1e-5)
    by_model = {r["key"]: r for r in report["breakdown"]["by_model"]}
    # Never priced as $0 (API.md): no price known, no cost.
    assert by_model["acme-1"]["unpriced_records"] == 7 and by_model["acme-1"]["cost_usd"] is None
    assert report["breakdown"]["by_model"][0]["key"] == "gpt-4o"  # most expensive first


def test_period_filter_and_forecast() -> None:
    df = frame(
        calls(10, start=START, every=timedelta(days=1), output_tokens=0, input_tokens=1000)
    )  # $0.0025 a day for 10 days
    full = analyze(df)
    assert full["forecast"]["monthly_run_rate_usd"] == pytest.approx(0.0025 * 8 / 7 * 30, abs=1e-6)
    part = analyze(df, start=START + timedelta(days=2), end=START + timedelta(days=5))
    assert part["records"] == 3
    assert part["period"]["start"].startswith((START + timedelta(days=2)).date().isoformat())


def test_empty_input_gives_an_empty_report() -> None:
    report = analyze(empty_frame())
    assert report["records"] == 0 and report["total_cost_usd"] == 0.0 and report["findings"] == []


def test_summary_and_agent_breakdowns() -> None:
    df = _workload()
    rows = summary(df, "feature")
    assert {r["key"] for r in rows} == {"triage", "chat", None}
    assert rows[0]["key"] == "triage"
    with pytest.raises(ValueError, match="group_by"):
        summary(df, "colour")
    top = breakdowns.top_spenders(df, "model", 1)
    assert [r["key"] for r in top] == ["gpt-4o"]
    trend = breakdowns.usage_trend(df, "day")
    assert [r["key"] for r in trend] == sorted(r["key"] for r in trend)
    assert trend[0]["change_pct"] is None
    assert sum(r["records"] for r in trend) == df.height


def test_frame_from_records_keeps_every_field() -> None:
    record = UsageRecord(
        timestamp=START,
        provider="openai",
        model="gpt-4o",
        input_tokens=5,
        output_tokens=1,
        cached_input_tokens=2,
        cache_write_tokens=1,
        latency_ms=3.5,
        status="timeout",
        cost_usd=0.1,
        feature="f",
        user="u",
        prompt_hash="h",
        request_id="r",
        retry_of="q",
        batch=True,
    )
    df = frame_from_records([record])
    assert tuple(df.columns) == tuple(SCHEMA) and df.schema == pl.Schema(SCHEMA)
    row = df.row(0, named=True)
    assert {name: row[name] for name in FIELDS} == {name: getattr(record, name) for name in FIELDS}


def test_breakdowns_priced_per_aggregate_equal_per_row_pricing() -> None:
    """``summary`` prices sums of tokens; it must agree with pricing every row, long-context
    tiers, cache reads, batch and billed costs included."""
    from netra.demo.workload import generate
    from netra.pricing.catalogue import Catalogue, price_frame

    demo, _ = generate(4000, 5)
    df = pl.concat(
        [
            demo,
            frame(
                calls(
                    5,
                    provider="anthropic",
                    model="claude-sonnet-4-5",
                    input_tokens=250_000,
                    cached_input_tokens=50_000,
                ),
                calls(
                    5, provider="google", model="gemini-2.5-pro", input_tokens=210_000, batch=True
                ),
                calls(5, model="gpt-4o-mini", cost_usd=0.25),
            ),
        ]
    )
    per_row = breakdowns.report_breakdowns(price_frame(df, Catalogue()))
    grouped = breakdowns.breakdowns_of_usage(df, ["model", "provider", "feature", "day"])
    for name, by in (
        ("by_model", "model"),
        ("by_provider", "provider"),
        ("by_feature", "feature"),
        ("by_day", "day"),
    ):
        left = {(r["key"], r.get("provider")): r for r in per_row[name]}
        right = {(r["key"], r.get("provider")): r for r in grouped[by]}
        assert left.keys() == right.keys()
        for key, row in left.items():
            other = right[key]
            assert other["cost_usd"] == pytest.approx(row["cost_usd"], abs=2e-6)
            for field in ("records", "input_tokens", "unpriced_records", "failed_records"):
                assert other[field] == row[field]


def test_naive_bounds_and_timestamps_are_utc() -> None:
    df = frame(calls(3, start=START, every=timedelta(hours=1)))
    naive = df.with_columns(pl.col("timestamp").dt.replace_time_zone(None))
    report = analyze(naive, start=(START + timedelta(hours=1)).replace(tzinfo=None))
    assert report["records"] == 2
    assert report["period"]["end"] == (START + timedelta(hours=2)).isoformat().replace(
        "+00:00", "Z"
    )
