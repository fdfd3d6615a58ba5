"""Breakdowns straight from unpriced usage: aggregate first, price the aggregates.

The catalogue cost is linear in the token counts for calls that share their rates, so calls
of one (provider, model, day, batch, long-context bucket) can be summed first and priced once:
one group-by over the rows, then arithmetic on a table of a few thousand rows. Billed
``cost_usd`` is summed apart and wins where given, as in ``pricing.price_frame``. The long-
context bucket of a row is how many of the catalogue's tier thresholds (for any model present)
its average call's prompt (``input_tokens / requests``) exceeds: within a bucket every model's
tier is the same. ``records`` counts rows, ``requests`` the calls they add up. Used for
``GET /usage/summary`` and the report-free breakdowns; models priced by time of day fall back
to per-row pricing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import polars as pl

from netra.pricing.catalogue import (
    COUNT_COLUMNS,
    Catalogue,
    RateColumns,
    Rates,
    cost_expr,
    count_columns,
    normalize_provider,
    per_call_prompt,
)

_DAY_US = 86_400_000_000


def grouped_costs(
    frame: pl.DataFrame, by: Sequence[str], catalogue: Catalogue
) -> pl.DataFrame | None:
    """One row per (``by`` columns..., ``provider_n``, ``model_n``, ``day``): records (rows),
    requests (calls), cost (null when unpriced), token sums, unpriced and failed counts. None
    when a model priced by time of day is present (the caller prices per row instead)."""
    extra = [c for c in by if c not in ("model", "provider", "day")]
    work = frame.select(
        *count_columns(frame),
        *extra,
        pl.col("provider").cast(pl.Categorical).alias("_p"),
        pl.col("model").cast(pl.Categorical).alias("_m"),
        (pl.col("timestamp").dt.epoch("us") // _DAY_US).alias("_day"),
        pl.col("batch").alias("_batch"),
        pl.col("cost_usd"),
        (pl.col("status") != "ok").alias("_failed"),
    )
    on = ["_p", "_m", "_day", "_batch"]
    keys = work.select(on).unique()
    names: dict[tuple[Any, Any], tuple[str, str | None, str]] = {}
    rates: list[Rates | None] = []
    for p_raw, m_raw, day, batch in keys.iter_rows():
        if (p_raw, m_raw) not in names:
            provider = normalize_provider(p_raw)
            found = catalogue.model_id(provider, m_raw.strip())
            if found is not None and catalogue.time_of_day_priced(provider, found):
                return None
            shown = found or m_raw.strip().lower()
            names[(p_raw, m_raw)] = (provider, found, shown)
        provider, model, _ = names[(p_raw, m_raw)]
        rates.append(
            catalogue.rates(provider, model, _day_start(day), batch=bool(batch)) if model else None
        )
    columns = RateColumns.of(rates)
    thresholds = sorted(
        {int(s) for unit in columns.tiers.values() for starts, _ in unit for s in starts if s}
    )
    bucket = pl.sum_horizontal(
        [(per_call_prompt() > t).cast(pl.Int8) for t in thresholds] or [pl.lit(0, pl.Int8)]
    ).alias("_bucket")
    groups = (
        work.with_columns(bucket, pl.col("cost_usd").is_not_null().alias("_billed"))
        .group_by([*extra, *on, "_bucket", "_billed"])
        .agg(
            pl.len().alias("records"),
            *[pl.col(c).sum() for c in COUNT_COLUMNS],
            pl.col("cost_usd").sum().alias("_billed_cost"),
            pl.col("_failed").sum().alias("failed_records"),
            pl.col("requests").filter(pl.col("_failed")).sum().alias("failed_requests"),
        )
    )
    keys = keys.with_row_index("_k")
    groups = groups.join(keys, on=on, how="left", nulls_equal=True)
    beside = columns.table()[groups["_k"]]
    lower = pl.Series([-1, *thresholds], dtype=pl.Float64)
    prompt = pl.lit(lower).gather(pl.col("_bucket")) + 0.5  # inside the bucket
    named = pl.DataFrame(
        [(p, m, n[0], n[2]) for (p, m), n in names.items()],
        schema={"_p": pl.String, "_m": pl.String, "provider_n": pl.String, "model_n": pl.String},
        orient="row",
    ).with_columns(pl.col("_p").cast(pl.Categorical), pl.col("_m").cast(pl.Categorical))
    priced = (
        pl.concat([groups, beside], how="horizontal")
        .with_columns(cost_expr(columns, prompt).alias("_catalogue"))
        .with_columns(
            pl.when(pl.col("_billed"))
            .then(pl.col("_billed_cost"))
            .otherwise(pl.col("_catalogue"))
            .alias("cost")
        )
        .join(named, on=["_p", "_m"], how="left")
    )
    return (
        priced.group_by([*extra, "provider_n", "model_n", "_day"])
        .agg(
            pl.col("records").sum(),
            pl.col("cost").sum(),
            *[pl.col(c).sum() for c in COUNT_COLUMNS],
            pl.col("records").filter(pl.col("cost").is_null()).sum().alias("unpriced_records"),
            pl.col("failed_records").sum(),
            pl.col("failed_requests").sum(),
        )
        .with_columns(pl.from_epoch(pl.col("_day") * 86_400, time_unit="s").dt.date().alias("day"))
    )


def _day_start(day: int) -> datetime:
    return datetime.fromtimestamp(day * 86_400, tz=UTC)
