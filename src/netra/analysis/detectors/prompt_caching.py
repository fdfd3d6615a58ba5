"""prompt_caching: large stable prefixes sent without cache reads.

Rule: per (feature, provider, model) with at least ``MIN_CALLS`` priced calls on a model whose
catalogue price for cached reads is below its input price, fire when every call carries a large
prompt (the stable prefix is estimated as ``PREFIX_SHARE`` x the 10th percentile of input tokens
and must reach ``MIN_PREFIX`` tokens, the providers' minimum cacheable length) while cached reads
are under ``MAX_CACHED_SHARE`` of input tokens. Projection, net of the change's own cost: calls
within ``TTL`` of the previous call of the same group read the prefix from the cache (cached-read
price); the others write it (cache-write price, which some providers charge above input). It must
save at least ``MIN_SAVING_SHARE``. Confidence: medium (the prefix is inferred from lengths, not
seen).

This fixed-prefix rule covers traffic without ``conversation_id``; calls that name their
conversation are judged by the conversation rule (``conversation_caching.py``), where each turn's
prompt holds the turns before it.

Aggregated rows: the prefix is estimated from the average call of each row; how many of a row's
calls would write rather than read is not seen, so each row is charged the most writes its
rollup period allows: one per ``TTL`` window of the period (288 a day, 12 an hour), at most
one per call; the others read. That bounds the saving from below.
"""

from __future__ import annotations

import math
from datetime import timedelta

import polars as pl

from netra.analysis.detectors import conversation_caching
from netra.analysis.detectors.base import Context, ratio, reprice
from netra.analysis.findings import Candidate

MIN_CALLS = 50
MIN_PREFIX = 1024
PREFIX_SHARE = 0.8
MAX_CACHED_SHARE = 0.10
TTL = timedelta(minutes=5)
MIN_SAVING_SHARE = 0.10


def _with_prefix_cached(rows: pl.DataFrame, prefix: int, rollup_s: int) -> pl.DataFrame:
    """The rows' tokens had the prefix been cached: ``_writes`` calls of each row write it,
    the others read it."""
    gap = pl.col("timestamp").diff()
    free = pl.col("input_tokens") - pl.col("cached_input_tokens") - pl.col("cache_write_tokens")
    extra = pl.min_horizontal(pl.lit(prefix), free // pl.col("_calls"))  # per call
    windows = max(1, math.ceil(rollup_s / TTL.total_seconds()))
    writes = (
        pl.when(pl.col("_agg"))
        .then(pl.min_horizontal(pl.col("_calls"), pl.lit(windows)))
        .otherwise((gap.is_null() | (gap > TTL)).cast(pl.Int64))
    )
    return (
        rows.sort("timestamp")
        .with_columns(writes.alias("_writes"), extra.alias("_extra"))
        .with_columns(
            (pl.col("cache_write_tokens") + pl.col("_writes") * pl.col("_extra")).alias(
                "cache_write_tokens"
            ),
            (
                pl.col("cached_input_tokens")
                + (pl.col("_calls") - pl.col("_writes")) * pl.col("_extra")
            ).alias("cached_input_tokens"),
        )
    )


def detect(ctx: Context) -> list[Candidate]:
    return fixed_prefix(ctx) + conversation_caching.detect(ctx)


def fixed_prefix(ctx: Context) -> list[Candidate]:
    keys = ["_feature", "provider_n", "model_n"]
    alone = pl.col("conversation_id").is_null()
    table = ctx.groups(
        keys,
        (pl.col("input_tokens") // pl.col("_calls")).quantile(0.1, "nearest").alias("p10_in"),
        (pl.col("cached_input_tokens").sum() / pl.col("input_tokens").sum()).alias("cached"),
        pl.col("timestamp").max().alias("last"),
        where=pl.col("catalogue_cost").is_not_null() & alone,
    ).filter(
        (pl.col("n") >= MIN_CALLS)
        & (pl.col("p10_in") * PREFIX_SHARE >= MIN_PREFIX)
        & (pl.col("cached") < MAX_CACHED_SHARE)
    )
    out = []
    for row in table.iter_rows(named=True):
        feature, provider, model = row["_feature"], row["provider_n"], row["model_n"]
        rates = ctx.catalogue.rates(provider, model, row["last"])
        if rates is None or rates.cache_read.base >= rates.input.base:
            continue
        prefix = int(row["p10_in"] * PREFIX_SHARE)
        mask = (
            (pl.col("_feature") == feature)
            & (pl.col("provider_n") == provider)
            & (pl.col("model_n") == model)
            & pl.col("catalogue_cost").is_not_null()
            & alone
        )
        rows = ctx.frame.filter(mask)
        what_if = _with_prefix_cached(rows, prefix, ctx.rollup_s)
        current, projected = reprice(ctx, mask, tokens=what_if)
        if current <= 0 or projected > (1.0 - MIN_SAVING_SHARE) * current:
            continue
        writes = int(what_if["_writes"].sum())
        out.append(
            Candidate(
                kind="prompt_caching",
                title=f"Cache the ~{prefix}-token prompt prefix of {feature}",
                detail=(
                    f"Every call of {feature} on {model} sends at least {row['p10_in']:.0f} "
                    f"prompt tokens, yet only {row['cached']:.0%} are read from the provider's "
                    f"prompt cache. Put the stable part first and enable caching: about "
                    f"{row['n'] - writes} of {row['n']} calls would read a ~{prefix}-token "
                    f"prefix from the cache, {writes} would write it."
                ),
                scope={"feature": feature, "provider": provider, "model": model},
                mask=mask,
                keep=pl.lit(ratio(current, projected)),
                confidence="medium",
                evidence={
                    "calls": row["n"],
                    "p10_input_tokens": row["p10_in"],
                    "estimated_prefix_tokens": prefix,
                    "cached_share": round(row["cached"], 4),
                    "cache_writes": writes,
                    "cache_ttl_minutes": TTL.total_seconds() / 60,
                    "aggregated_calls": row["n_agg"],
                },
            )
        )
    return out
