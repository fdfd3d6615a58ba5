"""Unpriced usage reads "unpriced" wherever a cost is printed, never "$0.00"; and a stored cost
past the record bound (from before the bound existed) never makes a report infinite."""

from __future__ import annotations

import io
import json
import math
from datetime import UTC, datetime, timedelta

import polars as pl
from rich.console import Console

from netra.analysis.engine import analyze
from netra.analysis.frame import conform, frame_from_records
from netra.analysis.money_text import group_cost, money, total_cost
from netra.analysis.report_html import render_html
from netra.analysis.report_table import render_table
from netra.records.record import UsageRecord
from netra.reports.service import plain_json

NOW = datetime.now(UTC).replace(microsecond=0)


def _record(i: int, provider: str, model: str, cost: float | None = None) -> UsageRecord:
    return UsageRecord(
        timestamp=NOW - timedelta(hours=i),
        provider=provider,
        model=model,
        input_tokens=1000,
        output_tokens=100,
        cost_usd=cost,
        feature="search",
    )


def _table(report: dict) -> str:  # type: ignore[type-arg]
    out = io.StringIO()
    render_table(report, Console(file=out, width=200, color_system=None))
    return out.getvalue()


def test_an_all_unpriced_report_prints_unpriced_never_zero_dollars() -> None:
    report = analyze(frame_from_records([_record(i, "acme", "house-model") for i in range(5)]))
    assert report["priced_records"] == 0 and report["records"] == 5
    table, html = _table(report), render_html(report)
    for text in (table, html):
        assert "unpriced" in text
        assert "$0.00" not in text


def test_a_partly_unpriced_group_says_how_many_are_unpriced() -> None:
    records = [_record(i, "openai", "gpt-4o") for i in range(3)]
    records += [_record(i, "acme", "house-model") for i in range(2)]
    report = analyze(frame_from_records(records))
    table = _table(report)
    assert "house-model (acme)" in table
    line = next(x for x in table.splitlines() if "house-model (acme)" in x)
    assert "unpriced" in line and "$" not in line
    feature = next(x for x in table.splitlines() if x.strip().startswith("│ search"))
    assert "+ 2 unpriced" in feature


def test_money_text() -> None:
    assert money(None) == "unpriced" and money(0.0) == "$0.00" and money(1234.5) == "$1,234.50"
    assert group_cost({"records": 3, "unpriced_records": 3, "cost_usd": 0.0}) == "unpriced"
    assert group_cost({"records": 3, "unpriced_records": 0, "cost_usd": 0.0}) == "$0.00"
    assert total_cost({"records": 2, "priced_records": 0}, 0.0) == "unpriced"
    assert total_cost({"records": 0, "priced_records": 0}, 0.0) == "$0.00"


def test_costs_past_the_bound_read_as_absent_so_the_report_stays_finite() -> None:
    frame = frame_from_records([_record(i, "openai", "gpt-4o", cost=1.0) for i in range(4)])
    poisoned = frame.with_columns(
        pl.Series("cost_usd", [1e308, 1e308, math.inf, math.nan]),
        pl.Series("latency_ms", [math.inf, 1e300, 5.0, None]),
    )
    cleaned = conform(poisoned)
    assert cleaned["cost_usd"].null_count() == 4
    assert cleaned["latency_ms"].to_list() == [None, None, 5.0, None]
    report = plain_json(analyze(cleaned))
    assert math.isfinite(report["total_cost_usd"]) and report["total_cost_usd"] > 0
    json.dumps(report, allow_nan=False)  # storable as JSON


def test_plain_json_never_lets_a_non_finite_number_through() -> None:
    assert plain_json({"a": [math.inf, 1.0, {"b": math.nan}]}) == {"a": [None, 1.0, {"b": None}]}
