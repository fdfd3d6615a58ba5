"""Monthly run-rate: the spend of the most recent window (the last 7 days of data, or the whole
period when shorter, at least one day) per day, times 30."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import polars as pl

from netra.analysis.money import usd

WINDOW = timedelta(days=7)
MONTH_DAYS = 30.0


def forecast(priced: pl.DataFrame) -> dict[str, Any]:
    rows = priced.filter(pl.col("cost").is_not_null())
    if rows.height == 0:
        return {"monthly_run_rate_usd": 0.0, "daily_run_rate_usd": 0.0, "basis_days": 0.0}
    first: datetime = rows["timestamp"].min()  # type: ignore[assignment]
    last: datetime = rows["timestamp"].max()  # type: ignore[assignment]
    window_start = max(first, last - WINDOW)
    cost = rows.filter(pl.col("timestamp") >= window_start)["cost"].sum() or 0.0
    days = max((last - window_start).total_seconds() / 86400.0, 1.0)
    daily = float(cost) / days
    return {
        "monthly_run_rate_usd": usd(daily * MONTH_DAYS),
        "daily_run_rate_usd": usd(daily),
        "basis_days": round(days, 2),
    }
