"""spend_anomaly: a day or feature far off its own baseline.

Rule: per feature with at least ``MIN_DAYS`` active days, the baseline is the median of its
daily cost and the spread its median absolute deviation (MAD). A day fires when its cost is at
least ``MIN_RATIO`` x the baseline and exceeds it by at least ``MIN_MADS`` x 1.4826 x MAD (a
robust z-score; a floor of 5 % of the baseline stands in for a zero MAD). Savings = the excess
over the baseline (what removing the cause, a loop or a leaked key, would save): keep =
baseline / cost for that feature's calls that day. Confidence: medium with at least
``HIGH_DAYS`` days of history, else low.
"""

from __future__ import annotations

import polars as pl

from netra.analysis.detectors.base import Context
from netra.analysis.findings import Candidate

MIN_DAYS = 7
HIGH_DAYS = 14
MIN_RATIO = 4.0
MIN_MADS = 6.0


def detect(ctx: Context) -> list[Candidate]:
    daily = ctx.frame.group_by("_feature", "_day").agg(
        pl.col("cost").sum().alias("cost"), pl.col("_calls").sum().alias("calls")
    )
    stats = (
        daily.group_by("_feature")
        .agg(
            pl.col("cost").median().alias("baseline"),
            (pl.col("cost") - pl.col("cost").median()).abs().median().alias("mad"),
            pl.len().alias("days"),
            pl.col("calls").median().alias("baseline_calls"),
        )
        .filter(pl.col("days") >= MIN_DAYS)
    )
    spread = pl.max_horizontal(1.4826 * pl.col("mad"), 0.05 * pl.col("baseline"))
    flagged = (
        daily.join(stats, on="_feature")
        .filter(
            (pl.col("baseline") > 0)
            & (pl.col("cost") >= MIN_RATIO * pl.col("baseline"))
            & (pl.col("cost") - pl.col("baseline") >= MIN_MADS * spread)
        )
        .sort("_feature", "_day")
    )
    out = []
    for row in flagged.iter_rows(named=True):
        feature, day = row["_feature"], row["_day"]
        times = row["cost"] / row["baseline"]
        out.append(
            Candidate(
                kind="spend_anomaly",
                title=f"{feature} spent {times:.1f}x its usual on {day.isoformat()}",
                detail=(
                    f"On {day.isoformat()} {feature} cost ${row['cost']:.2f} over "
                    f"{row['calls']} calls against a usual ${row['baseline']:.2f} a day "
                    f"({row['baseline_calls']:.0f} calls). Find the cause (a loop, a new "
                    "client, a leaked key) and cap it."
                ),
                scope={"feature": feature, "day": day.isoformat()},
                mask=(pl.col("_feature") == feature) & (pl.col("_day") == day),
                keep=pl.lit(row["baseline"] / row["cost"]),
                confidence="medium" if row["days"] >= HIGH_DAYS else "low",
                evidence={
                    "day_cost_usd": round(row["cost"], 6),
                    "baseline_daily_cost_usd": round(row["baseline"], 6),
                    "ratio": round(times, 2),
                    "calls": row["calls"],
                    "baseline_daily_calls": row["baseline_calls"],
                    "days_of_history": row["days"],
                },
            )
        )
    return out
