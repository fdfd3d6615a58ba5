"""retry_waste: failed calls and retry storms.

Rule: per (feature, provider, model), fire when at least ``MIN_FAILED`` calls failed (status
error, timeout or rate_limited) and they are at least ``MIN_RATE`` of the calls. A failed call
is paid for and delivers nothing; the fix (back-off, a circuit breaker, fixing the failing
input, capping retries) brings failures down to a normal ``BASELINE_RATE``: the projected cost
keeps that baseline share of failures, so savings = cost of the failed calls above baseline.
Evidence: failure rate, failures by status, retries (``retry_of``) and the longest retry run.
Confidence: high when the failure rate is at least twice ``MIN_RATE``, else medium.
"""

from __future__ import annotations

import polars as pl

from netra.analysis.detectors.base import Context
from netra.analysis.findings import Candidate

MIN_FAILED = 20
MIN_RATE = 0.10
BASELINE_RATE = 0.02


def detect(ctx: Context) -> list[Candidate]:
    keys = ["_feature", "provider_n", "model_n"]
    table = ctx.groups(
        keys,
        (~pl.col("_ok")).sum().alias("failed"),
        pl.col("cost").filter(~pl.col("_ok")).sum().alias("failed_cost"),
        (pl.col("status") == "error").sum().alias("error"),
        (pl.col("status") == "timeout").sum().alias("timeout"),
        (pl.col("status") == "rate_limited").sum().alias("rate_limited"),
        pl.col("retry_of").is_not_null().sum().alias("retries"),
    ).filter((pl.col("failed") >= MIN_FAILED) & (pl.col("failed") >= MIN_RATE * pl.col("n")))
    if table.height == 0:
        return []
    storms = (
        ctx.frame.filter(pl.col("retry_of").is_not_null())
        .group_by([*keys, "retry_of"])
        .agg(pl.len().alias("run"))
        .group_by(keys)
        .agg(pl.col("run").max().alias("longest_retry_run"))
    )
    table = table.join(storms, on=keys, how="left")
    out = []
    for row in table.iter_rows(named=True):
        feature, provider, model = row["_feature"], row["provider_n"], row["model_n"]
        rate = row["failed"] / row["n"]
        keep = min(1.0, BASELINE_RATE * row["n"] / row["failed"])
        mask = (
            (pl.col("_feature") == feature)
            & (pl.col("provider_n") == provider)
            & (pl.col("model_n") == model)
            & ~pl.col("_ok")
        )
        out.append(
            Candidate(
                kind="retry_waste",
                title=f"{row['failed']} failed calls in {feature} ({rate:.0%})",
                detail=(
                    f"{rate:.0%} of the {row['n']} calls of {feature} on {model} failed and were "
                    f"paid for. Add back-off and a retry cap and fix the failing cause: at a "
                    f"normal {BASELINE_RATE:.0%} failure rate the waste disappears."
                ),
                scope={"feature": feature, "provider": provider, "model": model},
                mask=mask,
                keep=pl.lit(keep),
                confidence="high" if rate >= 2 * MIN_RATE else "medium",
                evidence={
                    "calls": row["n"],
                    "failed": row["failed"],
                    "failure_rate": round(rate, 4),
                    "by_status": {
                        s: row[s] for s in ("error", "timeout", "rate_limited") if row[s]
                    },
                    "retries": row["retries"],
                    "longest_retry_run": row["longest_retry_run"] or 0,
                    "baseline_failure_rate": BASELINE_RATE,
                },
            )
        )
    return out
