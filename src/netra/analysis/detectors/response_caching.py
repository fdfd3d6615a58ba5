"""response_caching: identical prompts answered again.

Rule: a successful call is a *repeat* when the same (feature, model, prompt_hash) was answered
successfully less than ``TTL`` before it. Per (feature, provider, model), fire when there are at
least ``MIN_REPEATS`` repeats and they are at least ``MIN_SHARE`` of its successful calls that
carry a prompt_hash. Projection: a response cache keyed on the prompt hash answers every repeat
without a model call (keep = 0 for repeat rows; the cache's own cost is not token-priced and
negligible). Confidence: high from 2 x MIN_SHARE, else medium.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from netra.analysis.detectors.base import Context
from netra.analysis.findings import Candidate

TTL = timedelta(hours=24)
MIN_REPEATS = 20
MIN_SHARE = 0.15


def mark_repeats(ctx: Context) -> None:
    """Add the row-level ``_repeat`` flag the findings' masks use."""
    keys = ["_feature", "model_n", "prompt_hash"]
    hashed = pl.col("prompt_hash").is_not_null() & pl.col("_ok")
    previous = (
        pl.when(hashed)
        .then(pl.col("timestamp"))
        .otherwise(None)
        .shift(1)
        .over(keys, order_by="timestamp")
    )
    ctx.frame = ctx.frame.with_columns(
        (hashed & (pl.col("timestamp") - previous <= TTL)).fill_null(False).alias("_repeat")
    )


def detect(ctx: Context) -> list[Candidate]:
    if ctx.frame["prompt_hash"].null_count() == ctx.frame.height:
        return []
    mark_repeats(ctx)
    keys = ["_feature", "provider_n", "model_n"]
    table = ctx.groups(
        keys,
        pl.col("_repeat").sum().alias("repeats"),
        pl.col("prompt_hash").n_unique().alias("distinct_prompts"),
        where=pl.col("_ok") & pl.col("prompt_hash").is_not_null(),
    ).filter((pl.col("repeats") >= MIN_REPEATS) & (pl.col("repeats") >= MIN_SHARE * pl.col("n")))
    out = []
    for row in table.iter_rows(named=True):
        feature, provider, model = row["_feature"], row["provider_n"], row["model_n"]
        share = row["repeats"] / row["n"]
        hours = TTL.total_seconds() / 3600
        out.append(
            Candidate(
                kind="response_caching",
                title=f"{share:.0%} of {feature} calls repeat an identical prompt",
                detail=(
                    f"{row['repeats']} of {row['n']} successful calls of {feature} on {model} "
                    f"sent a prompt already answered in the previous {hours:.0f} h. "
                    "Cache responses by prompt hash and serve repeats without a model call."
                ),
                scope={"feature": feature, "provider": provider, "model": model},
                mask=(
                    (pl.col("_feature") == feature)
                    & (pl.col("provider_n") == provider)
                    & (pl.col("model_n") == model)
                    & pl.col("_repeat")
                ),
                keep=pl.lit(0.0),
                confidence="high" if share >= 2 * MIN_SHARE else "medium",
                evidence={
                    "calls_with_prompt_hash": row["n"],
                    "repeats": row["repeats"],
                    "repeat_share": round(share, 4),
                    "distinct_prompts": row["distinct_prompts"],
                    "ttl_hours": hours,
                },
            )
        )
    return out
