"""response_caching: identical prompts answered again.

Rule: a successful call is a *repeat* when the same (feature, model, prompt_hash) was answered
successfully less than ``TTL`` before it. Per (feature, provider, model), fire when there are at
least ``MIN_REPEATS`` repeats and they are at least ``MIN_SHARE`` of its successful calls that
carry a prompt_hash. Projection: a response cache keyed on the prompt hash answers every repeat
without a model call (keep = 0 for a repeated call; the cache's own cost is not token-priced and
negligible). Confidence: high from 2 x MIN_SHARE, else medium.

Conversations: the evidence says how many repeats came from a different conversation than the
answer before them (the same question asked in many chats: what a shared response cache serves)
and how many conversations they span.

Aggregated rows: a row of N calls with one prompt_hash holds N - 1 repeats of its first call
when the rollup period is at most ``TTL`` (hourly and daily rollups are), plus its first call
when the hash was answered within ``TTL`` before the row; a row's keep is the share of its calls
that are not repeats. Rollup rows without a prompt_hash cannot be examined: the evidence counts
the calls that were left out.
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
    """Add the row-level ``_repeats`` (repeated calls in the row) and ``_across`` (the row's
    first call repeats an answer given in another conversation) columns the findings use.

    Only groups that could qualify are examined: the count of calls minus distinct prompts
    bounds the repeats from above (the TTL can only lower it)."""
    keys = ["_feature", "model_n", "prompt_hash"]
    group = ["_feature", "provider_n", "model_n"]
    hashed = ctx.frame.filter(pl.col("prompt_hash").is_not_null() & pl.col("_ok"))
    bound = (
        hashed.group_by(group)
        .agg(pl.col("_calls").sum().alias("n"), pl.col("prompt_hash").n_unique().alias("distinct"))
        .filter(
            (pl.col("n") - pl.col("distinct") >= MIN_REPEATS)
            & (pl.col("n") - pl.col("distinct") >= MIN_SHARE * pl.col("n"))
        )
        .select(group)
    )
    rows = (
        hashed.join(bound, on=group, how="semi")
        .select("_row", "timestamp", "_calls", "conversation_id", *keys)
        .sort([*keys, "timestamp"])
    )
    same = pl.all_horizontal([pl.col(k) == pl.col(k).shift(1) for k in keys])
    first_repeats = (same & (pl.col("timestamp") - pl.col("timestamp").shift(1) <= TTL)).fill_null(
        False
    )
    other_chat = pl.col("conversation_id").is_not_null() & (
        pl.col("conversation_id").shift(1).is_null()
        | (pl.col("conversation_id") != pl.col("conversation_id").shift(1))
    )
    marked = rows.select(
        "_row",
        ((pl.col("_calls") - 1) + first_repeats.cast(pl.Int64)).alias("_repeats"),
        (first_repeats & other_chat).alias("_across"),
    ).filter(pl.col("_repeats") > 0)
    ctx.frame = (
        ctx.frame.drop("_repeats", "_across", strict=False)
        .join(marked, on="_row", how="left")
        .with_columns(pl.col("_repeats").fill_null(0), pl.col("_across").fill_null(False))
    )


def detect(ctx: Context) -> list[Candidate]:
    if ctx.frame["prompt_hash"].null_count() == ctx.frame.height:
        return []
    mark_repeats(ctx)
    keys = ["_feature", "provider_n", "model_n"]
    hashed = pl.col("_ok") & pl.col("prompt_hash").is_not_null()
    table = ctx.groups(
        keys,
        pl.col("_repeats").filter(hashed).sum().alias("repeats"),
        pl.col("_across").filter(hashed).sum().alias("across"),
        pl.col("conversation_id")
        .filter(hashed & (pl.col("_repeats") > 0))
        .n_unique()
        .alias("conversations"),
        pl.col("prompt_hash").filter(hashed).n_unique().alias("distinct_prompts"),
        pl.col("_calls").filter(hashed).sum().alias("hashed"),
        pl.col("_calls").filter(~hashed & pl.col("_agg")).sum().alias("unexamined"),
    ).filter(
        (pl.col("repeats") >= MIN_REPEATS) & (pl.col("repeats") >= MIN_SHARE * pl.col("hashed"))
    )
    out = []
    for row in table.iter_rows(named=True):
        feature, provider, model = row["_feature"], row["provider_n"], row["model_n"]
        share = row["repeats"] / row["hashed"]
        hours = TTL.total_seconds() / 3600
        detail = (
            f"{row['repeats']} of {row['hashed']} successful calls of {feature} on {model} "
            f"sent a prompt already answered in the previous {hours:.0f} h. "
            "Cache responses by prompt hash and serve repeats without a model call."
        )
        if row["across"]:
            detail += (
                f" {row['across']} of the repeats ask, in another conversation, what an earlier "
                "one asked: a cache shared across conversations serves them."
            )
        if row["n_agg"]:
            detail += (
                f" {row['n_agg']} calls come in aggregated rows: repeats inside a row are "
                "counted from its prompt hash"
                + (
                    f"; {row['unexamined']} calls in rows without one could not be examined."
                    if row["unexamined"]
                    else "."
                )
            )
        out.append(
            Candidate(
                kind="response_caching",
                title=f"{share:.0%} of {feature} calls repeat an identical prompt",
                detail=detail,
                scope={"feature": feature, "provider": provider, "model": model},
                mask=(
                    (pl.col("_feature") == feature)
                    & (pl.col("provider_n") == provider)
                    & (pl.col("model_n") == model)
                    & (pl.col("_repeats") > 0)
                ),
                keep=1.0 - pl.col("_repeats") / pl.col("_calls"),
                confidence="high" if share >= 2 * MIN_SHARE else "medium",
                evidence={
                    "calls_with_prompt_hash": row["hashed"],
                    "repeats": row["repeats"],
                    "repeat_share": round(share, 4),
                    "distinct_prompts": row["distinct_prompts"],
                    "repeats_across_conversations": row["across"],
                    "conversations_with_repeats": row["conversations"],
                    "aggregated_calls": row["n_agg"],
                    "unexamined_aggregated_calls": row["unexamined"],
                    "ttl_hours": hours,
                },
            )
        )
    return out
