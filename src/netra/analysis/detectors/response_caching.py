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
    """Add the row-level ``_repeat`` flag the findings' masks use.

    Only groups that could qualify are examined: the count of calls minus distinct prompts
    bounds the repeats from above (the TTL can only lower it)."""
    keys = ["_feature", "model_n", "prompt_hash"]
    group = ["_feature", "provider_n", "model_n"]
    hashed = ctx.frame.filter(pl.col("prompt_hash").is_not_null() & pl.col("_ok"))
    bound = (
        hashed.group_by(group)
        .agg(pl.len().alias("n"), pl.col("prompt_hash").n_unique().alias("distinct"))
        .filter(
            (pl.col("n") - pl.col("distinct") >= MIN_REPEATS)
            & (pl.col("n") - pl.col("distinct") >= MIN_SHARE * pl.col("n"))
        )
        .select(group)
    )
    rows = (
        hashed.join(bound, on=group, how="semi")
        .select("_row", "timestamp", *keys)
        .sort([*keys, "timestamp"])
    )
    same = pl.all_horizontal([pl.col(k) == pl.col(k).shift(1) for k in keys])
    repeat = rows.filter(same & (pl.col("timestamp") - pl.col("timestamp").shift(1) <= TTL))
    ctx.frame = ctx.frame.with_columns(
        pl.col("_row").is_in(repeat["_row"].implode()).alias("_repeat")
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
