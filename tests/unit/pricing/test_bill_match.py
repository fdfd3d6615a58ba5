"""The case issue 11 measured: an Anthropic usage report of daily totals priced 48 % above the
bill. The bill is computed here from Anthropic's published price list, call by call; the
report's catalogue cost of the same usage, given as daily rollup rows, must match it."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from netra.analysis.engine import analyze
from netra.analysis.frame import conform
from netra.pricing.catalogue import Catalogue
from netra.pricing.overrides import PriceOverrides

DAY0 = datetime(2026, 1, 5, tzinfo=UTC)  # before the catalogue has batch prices for Claude
MTOK = 1e-6
# claude-sonnet-4-5, USD per MTok: base, and above 200k prompt tokens
PRICE = {"in": 3.0, "out": 15.0, "read": 0.30, "w5": 3.75, "w1h": 6.0}
LONG = {"in": 6.0, "out": 22.5, "read": 0.60, "w5": 7.50, "w1h": 12.0}


def bill(call: dict[str, int], batch: bool) -> float:
    p = LONG if call["prompt"] > 200_000 else PRICE
    uncached = call["prompt"] - call["read"] - call["w5"] - call["w1h"]
    usd = MTOK * (
        uncached * p["in"]
        + call["read"] * p["read"]
        + call["w5"] * p["w5"]
        + call["w1h"] * p["w1h"]
        + call["out"] * p["out"]
    )
    return usd * (0.5 if batch else 1.0)


def calls(rng: random.Random, n: int, long: bool) -> list[dict[str, int]]:
    out = []
    for _ in range(n):
        prompt = rng.randint(210_000, 400_000) if long else rng.randint(2_000, 60_000)
        read = rng.randint(0, prompt // 2)
        w1h = rng.randint(0, (prompt - read) // 4)
        w5 = rng.randint(0, (prompt - read - w1h) // 4)
        out.append(
            {"prompt": prompt, "read": read, "w5": w5, "w1h": w1h, "out": rng.randint(50, 2000)}
        )
    return out


def test_a_daily_anthropic_report_prices_to_its_bill() -> None:
    rng = random.Random(11)
    rows, billed = [], 0.0
    for day in range(14):
        for batch in (False, True):
            for long in (False, True):  # the report splits rows by context_window
                group = calls(rng, 40 if not long else 3, long)
                billed += sum(bill(c, batch) for c in group)
                rows.append(
                    {
                        "timestamp": DAY0 + timedelta(days=day),
                        "provider": "anthropic",
                        "model": "claude-sonnet-4-5",
                        "input_tokens": sum(c["prompt"] for c in group),
                        "cached_input_tokens": sum(c["read"] for c in group),
                        "cache_write_tokens": sum(c["w5"] + c["w1h"] for c in group),
                        "cache_write_1h_tokens": sum(c["w1h"] for c in group),
                        "output_tokens": sum(c["out"] for c in group),
                        "batch": batch,
                        "requests": len(group),
                    }
                )
    df = conform(pl.DataFrame(rows))
    report = analyze(df, catalogue=Catalogue(overrides=PriceOverrides()))
    assert report["total_cost_usd"] == pytest.approx(billed, rel=1e-6)
    assert report["requests"] == 14 * 2 * 43
    # The three mistakes the issue measured, together, price it far above the bill.
    naive = df.with_columns(
        pl.lit(1, pl.Int64).alias("requests"),  # the tier applied to each day's total
        pl.lit(0, pl.Int64).alias("cache_write_1h_tokens"),  # one-hour writes as 5-minute
        pl.lit(False).alias("batch"),  # batch rows at full price (no catalogue batch price)
    )
    naive_catalogue = Catalogue(overrides=PriceOverrides())
    naive_report = analyze(naive, catalogue=naive_catalogue)
    assert naive_report["total_cost_usd"] > 1.3 * billed
