"""batch_eligible: latency-tolerant traffic at interactive prices.

Rule: per (feature, provider, model) of priced calls not already sent through a batch API, with
at least ``MIN_CALLS`` calls over at least ``MIN_DAYS`` days, fire when the traffic looks like a
scheduled job rather than people waiting: at least ``MIN_WINDOW_SHARE`` of its calls fall in
one ``WINDOW_HOURS``-hour window of the day (UTC, wrapping at midnight) and it serves at most
``MAX_USERS`` distinct end-users. The catalogue must have a batch price for the model at the
calls' dates; projection = the same tokens at the batch price (keep = batch / interactive),
which must save at least ``MIN_SAVING_SHARE``. Confidence: medium (the timing is inferred).
Where the catalogue has no batch price at a date, the provider's published batch discount is
used (``pricing.rates``) and the evidence says so.

Aggregated rows count their calls in the hour of their timestamp: hourly (or finer) rollups show
the time of day, daily ones do not, so a group with daily rollup rows is not judged.
"""

from __future__ import annotations

import polars as pl

from netra.analysis.detectors.base import Context, ratio, reprice
from netra.analysis.findings import Candidate
from netra.analysis.rollups import DAY_S

MIN_CALLS = 50
MIN_DAYS = 3
WINDOW_HOURS = 3
MIN_WINDOW_SHARE = 0.9
MAX_USERS = 1
MIN_SAVING_SHARE = 0.2


def _best_window(hours: dict[int, int]) -> tuple[int, float]:
    total = sum(hours.values())
    best_start, best = 0, 0
    for start in range(24):
        count = sum(hours.get((start + k) % 24, 0) for k in range(WINDOW_HOURS))
        if count > best:
            best_start, best = start, count
    return best_start, best / total if total else 0.0


def detect(ctx: Context) -> list[Candidate]:
    keys = ["_feature", "provider_n", "model_n"]
    eligible = pl.col("catalogue_cost").is_not_null() & ~pl.col("batch")
    table = ctx.groups(
        keys,
        pl.col("user").n_unique().alias("users"),
        pl.col("user").null_count().alias("no_user"),
        pl.col("_day").n_unique().alias("days"),
        where=eligible,
    )
    table = table.filter((pl.col("n_agg") == 0) | pl.lit(ctx.rollup_s < DAY_S)).with_columns(
        (pl.col("users") - (pl.col("no_user") > 0).cast(pl.Int64)).alias("users")
    )
    table = table.filter(
        (pl.col("n") >= MIN_CALLS) & (pl.col("days") >= MIN_DAYS) & (pl.col("users") <= MAX_USERS)
    )
    if table.height == 0:
        return []
    hours = (
        ctx.frame.filter(eligible)
        .join(table.select(keys), on=keys)
        .group_by([*keys, pl.col("timestamp").dt.hour().alias("hour")])
        .agg(pl.col("_calls").sum().alias("calls"))
    )
    histogram: dict[tuple[str, str, str], dict[int, int]] = {}
    for feature, provider, model, hour, calls in hours.iter_rows():
        histogram.setdefault((feature, provider, model), {})[hour] = calls
    out = []
    for row in table.iter_rows(named=True):
        feature, provider, model = row["_feature"], row["provider_n"], row["model_n"]
        start_hour, share = _best_window(histogram.get((feature, provider, model), {}))
        if share < MIN_WINDOW_SHARE:
            continue
        mask = (
            (pl.col("_feature") == feature)
            & (pl.col("provider_n") == provider)
            & (pl.col("model_n") == model)
            & eligible
        )
        assumed = len(ctx.catalogue.batch_assumed)
        current, projected = reprice(ctx, mask, batch=True)
        published = len(ctx.catalogue.batch_assumed) > assumed or (
            (provider, model) in ctx.catalogue.batch_assumed
        )
        if current <= 0 or projected > (1.0 - MIN_SAVING_SHARE) * current:
            continue
        window = f"{start_hour:02d}:00-{(start_hour + WINDOW_HOURS) % 24:02d}:00 UTC"
        out.append(
            Candidate(
                kind="batch_eligible",
                title=f"Send {feature} through the batch API",
                detail=(
                    f"{share:.0%} of the {row['n']} calls of {feature} on {model} run in "
                    f"{window}, {_who(row['users'])}: a scheduled job, not someone "
                    f"waiting. {provider}'s batch API prices the same tokens "
                    f"{1 - projected / current:.0%} lower."
                ),
                scope={"feature": feature, "provider": provider, "model": model},
                mask=mask,
                keep=pl.lit(ratio(current, projected)),
                confidence="medium",
                evidence={
                    "calls": row["n"],
                    "days": row["days"],
                    "window": window,
                    "window_share": round(share, 4),
                    "distinct_users": row["users"],
                    "batch_price": "provider's published batch discount"
                    if published
                    else "catalogue",
                },
            )
        )
    return out


def _who(users: int) -> str:
    if users == 0:
        return "with no end-user attached"
    return "for a single end-user" if users == 1 else f"for only {users} end-users"
