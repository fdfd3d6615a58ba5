"""retry_waste: failed calls and retry storms.

Rule: per (feature, provider, model), fire on either waste:
- failures: at least ``MIN_FAILED`` calls failed (status error, timeout or rate_limited) and
  they are at least ``MIN_RATE`` of the calls. A failed call is paid for and delivers nothing;
  the fix (back-off, a circuit breaker, fixing the failing input, capping retries) brings
  failures down to a normal ``BASELINE_RATE``: the projection keeps that baseline share of the
  failures, so savings = cost of the failed calls above baseline;
- redundant retries: at least ``MIN_REDUNDANT`` calls, and ``MIN_REDUNDANT_RATE`` of the calls,
  retry (``retry_of``) a call that had succeeded (a client-side timeout shorter than the
  model's answer time pays twice for one answer). Each of them is saved whole.
Evidence: failure rate, failures by status, retries, redundant retries and the longest retry
run of one call. Confidence: high when the failure rate is at least twice ``MIN_RATE`` or
redundant retries are at least twice their floor, else medium.

Aggregated rows (``requests`` > 1): failures are counted in calls (a failed rollup row is that
many failed calls) and priced as such; retry links exist only between single calls, so a group
with rollup rows says how many of its calls could not be checked for redundant retries.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from netra.analysis.detectors.base import Context
from netra.analysis.findings import Candidate

MIN_FAILED = 20
MIN_RATE = 0.10
BASELINE_RATE = 0.02
MIN_REDUNDANT = 10
MIN_REDUNDANT_RATE = 0.05


def mark_redundant(ctx: Context) -> None:
    """Add ``_redundant``: the call retries one that succeeded."""
    succeeded = (
        ctx.frame.filter(pl.col("request_id").is_not_null() & pl.col("_ok"))
        .select(pl.col("request_id").alias("retry_of"))
        .unique()
    )
    redundant = ctx.frame.filter(pl.col("retry_of").is_not_null()).join(
        succeeded, on="retry_of", how="semi"
    )["_row"]
    ctx.frame = ctx.frame.with_columns(
        pl.col("_row").is_in(redundant.implode()).alias("_redundant")
    )


def detect(ctx: Context) -> list[Candidate]:
    keys = ["_feature", "provider_n", "model_n"]
    if ctx.frame["retry_of"].null_count() < ctx.frame.height:
        mark_redundant(ctx)
    else:
        ctx.frame = ctx.frame.with_columns(pl.lit(False).alias("_redundant"))
    calls = pl.col("_calls")
    table = ctx.groups(
        keys,
        calls.filter(~pl.col("_ok")).sum().alias("failed"),
        calls.filter(pl.col("_redundant")).sum().alias("redundant"),
        calls.filter(pl.col("status") == "error").sum().alias("error"),
        calls.filter(pl.col("status") == "timeout").sum().alias("timeout"),
        calls.filter(pl.col("status") == "rate_limited").sum().alias("rate_limited"),
        pl.col("retry_of").is_not_null().sum().alias("retries"),
    ).with_columns(
        ((pl.col("failed") >= MIN_FAILED) & (pl.col("failed") >= MIN_RATE * pl.col("n"))).alias(
            "failing"
        ),
        (
            (pl.col("redundant") >= MIN_REDUNDANT)
            & (pl.col("redundant") >= MIN_REDUNDANT_RATE * pl.col("n"))
        ).alias("doubling"),
    )
    table = table.filter(pl.col("failing") | pl.col("doubling"))
    if table.height == 0:
        return []
    table = table.join(_longest_chains(ctx, keys), on=keys, how="left")
    return [_finding(row) for row in table.iter_rows(named=True)]


MAX_CHAIN = 50  # chains are followed this many hops up (longer ones report 51)


def _longest_chains(ctx: Context, keys: list[str]) -> pl.DataFrame:
    """Per group, the longest chain of retries (a retry of a retry of ... one call)."""
    links = ctx.frame.filter(pl.col("retry_of").is_not_null()).select(
        *keys, "request_id", "retry_of"
    )
    up = links.select(pl.col("request_id").alias("_node"), pl.col("retry_of").alias("_parent"))
    # Walk each retry up its chain, one hop a step, while its ancestor is itself a retry.
    frontier = links.select("request_id", pl.col("retry_of").alias("_node"), pl.lit(1).alias("d"))
    reached = [frontier.select("request_id", "d")]
    for _ in range(MAX_CHAIN):
        frontier = frontier.join(up, on="_node", how="inner").select(
            "request_id", pl.col("_parent").alias("_node"), pl.col("d") + 1
        )
        if frontier.height == 0:
            break
        reached.append(frontier.select("request_id", "d"))
    depth = pl.concat(reached).group_by("request_id").agg(pl.col("d").max())
    return (
        links.join(depth, on="request_id", how="left")
        .group_by(keys)
        .agg(pl.col("d").max().alias("longest_retry_run"))
    )


def _finding(row: dict[str, Any]) -> Candidate:
    feature, provider, model = row["_feature"], row["provider_n"], row["model_n"]
    rate = row["failed"] / row["n"]
    scope = (
        (pl.col("_feature") == feature)
        & (pl.col("provider_n") == provider)
        & (pl.col("model_n") == model)
    )
    failed_keep = min(1.0, BASELINE_RATE * row["n"] / row["failed"]) if row["failed"] else 1.0
    failed = ~pl.col("_ok") if row["failing"] else pl.lit(False)
    doubled = pl.col("_redundant") if row["doubling"] else pl.lit(False)
    parts = []
    if row["failing"]:
        parts.append(
            f"{rate:.0%} of the {row['n']} calls of {feature} on {model} failed and were paid "
            f"for; add back-off and a retry cap and fix the failing cause: at a normal "
            f"{BASELINE_RATE:.0%} failure rate the waste disappears."
        )
    if row["doubling"]:
        parts.append(
            f"{row['redundant']} calls retried a call that had succeeded (a client timeout "
            "shorter than the answer time pays twice for one answer): raise the timeout or "
            "reuse the first answer."
        )
    strong = rate >= 2 * MIN_RATE or row["redundant"] >= 2 * max(
        MIN_REDUNDANT, MIN_REDUNDANT_RATE * row["n"]
    )
    if row["n_agg"]:
        parts.append(
            f"{row['n_agg']} of the {row['n']} calls come in aggregated rows: their failures "
            "are counted, but retries of them cannot be traced."
        )
    title = (
        f"{row['failed']} failed calls in {feature} ({rate:.0%})"
        if row["failing"]
        else f"{row['redundant']} redundant retries in {feature}"
    )
    return Candidate(
        kind="retry_waste",
        title=title,
        detail=" ".join(parts),
        scope={"feature": feature, "provider": provider, "model": model},
        mask=scope & (failed | doubled),
        keep=pl.when(doubled).then(0.0).otherwise(failed_keep),
        confidence="high" if strong else "medium",
        evidence={
            "calls": row["n"],
            "failed": row["failed"],
            "failure_rate": round(rate, 4),
            "by_status": {s: row[s] for s in ("error", "timeout", "rate_limited") if row[s]},
            "retries": row["retries"],
            "redundant_retries": row["redundant"],
            "longest_retry_run": row["longest_retry_run"] or 0,
            "baseline_failure_rate": BASELINE_RATE,
            "aggregated_calls": row["n_agg"],
        },
    )
