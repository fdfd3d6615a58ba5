"""prompt_caching, conversation rule: each turn of a chat resends the turns before it.

Calls that carry a ``conversation_id`` are replayed per conversation, in time order, through
a model of the provider's prompt cache (``cache_rules``):

- after a turn, the cache holds that turn's prompt (written, or read and extended), provided it
  reaches the provider's minimum cacheable length;
- the next turn reads the previous turn's prompt from the cache when the cache is still alive
  (at most ``ttl`` since the previous turn: every use refreshes the lifetime) and the new prompt
  starts with it (a prompt shorter than the one before it was truncated: no read), and writes
  the rest of its prompt; a turn with no live cache writes its whole prompt;
- writes are priced at the catalogue's cache-write price (Anthropic charges 1.25x input, OpenAI
  and Google the input price), reads at the cached-read price.

Per (feature, provider, model): the replayed tokens are priced at the calls' own dates and
compared with the calls as they were (the cache reads the records already show are kept where
they exceed the replay's); fire when the saving, net of the writes, is at least
``MIN_SAVING_SHARE`` of the catalogue cost of at least ``MIN_CALLS`` calls. keep = replayed /
current cost. Confidence: medium (the contents of the prompts are not seen; their lengths are).

Aggregated rows do not show the order of turns: rows with ``requests`` > 1 are left out and
counted in the evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from netra.analysis.detectors.base import Context, ratio, reprice
from netra.analysis.findings import Candidate

MIN_CALLS = 50
MIN_SAVING_SHARE = 0.02


@dataclass(frozen=True, slots=True)
class CacheRules:
    min_tokens: int  # the provider's minimum cacheable prompt length
    ttl: timedelta  # lifetime of an entry, refreshed on every read


def cache_rules(provider: str, model: str) -> CacheRules:
    """The providers' published prompt-cache rules (default five-minute lifetime)."""
    five = timedelta(minutes=5)
    if provider == "anthropic" or "claude" in model:
        return CacheRules(2048 if "haiku" in model else 1024, five)
    if provider == "google" and "pro" in model:
        return CacheRules(2048, five)
    return CacheRules(1024, five)


def replay(rows: pl.DataFrame, rules: CacheRules) -> pl.DataFrame:
    """``rows`` (single calls with conversation_id) with ``_read`` and ``_write``: the prompt
    tokens the modelled cache would have read and written on each turn, and the token columns
    changed to match (keeping the records' own cache reads where they are larger)."""
    conv = "conversation_id"
    prev = pl.col("input_tokens").shift(1).over(conv)
    gap = pl.col("timestamp").diff().over(conv)
    alive = prev.is_not_null() & (gap <= rules.ttl) & (prev >= rules.min_tokens)
    read = pl.when(alive & (pl.col("input_tokens") >= prev)).then(prev).otherwise(0)
    write = (
        pl.when(pl.col("input_tokens") >= rules.min_tokens)
        .then(pl.col("input_tokens") - pl.col("_read"))
        .otherwise(0)
    )
    better = pl.col("_read") >= pl.col("cached_input_tokens")  # else the records did better
    out = (
        rows.sort(conv, "timestamp")
        .with_columns(read.alias("_read"))
        .with_columns(write.alias("_write"))
        .with_columns(
            pl.when(better)
            .then(pl.col("_write"))
            .otherwise(pl.col("cache_write_tokens"))
            .alias("cache_write_tokens"),
            pl.max_horizontal("cached_input_tokens", "_read").alias("cached_input_tokens"),
        )
    )
    return out.with_columns(
        pl.min_horizontal("cache_write_1h_tokens", "cache_write_tokens").alias(
            "cache_write_1h_tokens"
        )
    )


def detect(ctx: Context) -> list[Candidate]:
    keys = ["_feature", "provider_n", "model_n"]
    chat = pl.col("conversation_id").is_not_null() & pl.col("catalogue_cost").is_not_null()
    table = ctx.groups(
        keys,
        pl.col("conversation_id").filter(~pl.col("_agg")).n_unique().alias("conversations"),
        pl.col("cached_input_tokens").sum().alias("cached_now"),
        pl.col("timestamp").max().alias("last"),
        where=chat,
    ).filter(pl.col("n") - pl.col("n_agg") >= MIN_CALLS)
    out = []
    for row in table.iter_rows(named=True):
        feature, provider, model = row["_feature"], row["provider_n"], row["model_n"]
        rates = ctx.catalogue.rates(provider, model, row["last"])
        if rates is None or rates.cache_read.base >= rates.input.base:
            continue
        rules = cache_rules(provider, model)
        mask = (
            (pl.col("_feature") == feature)
            & (pl.col("provider_n") == provider)
            & (pl.col("model_n") == model)
            & chat
            & ~pl.col("_agg")
        )
        what_if = replay(ctx.frame.filter(mask), rules)
        current, projected = reprice(ctx, mask, tokens=what_if)
        if current <= 0 or projected > (1.0 - MIN_SAVING_SHARE) * current:
            continue
        read, written = int(what_if["_read"].sum()), int(what_if["_write"].sum())
        turns_read = int((what_if["_read"] > 0).sum())
        calls = row["n"] - row["n_agg"]
        detail = (
            f"{row['conversations']} conversations of {feature} on {model} resend their earlier "
            f"turns with every call. With prompt caching (the prompt's stable part first, a "
            f"cache breakpoint at its end), {turns_read} of {calls} turns would read "
            f"{read:,} tokens from the cache and {written:,} would be written, saving "
            f"{1 - projected / current:.0%} net of the writes; the records show "
            f"{row['cached_now']:,} tokens read from the cache as sent."
        )
        if row["n_agg"]:
            detail += f" {row['n_agg']} calls in aggregated rows were left out (turn order unseen)."
        out.append(
            Candidate(
                kind="prompt_caching",
                title=f"Cache the conversation history of {feature}",
                detail=detail,
                scope={"feature": feature, "provider": provider, "model": model},
                mask=mask,
                keep=pl.lit(ratio(current, projected)),
                confidence="medium",
                evidence={
                    "rule": "conversation",
                    "calls": calls,
                    "conversations": row["conversations"],
                    "turns_reading_cache": turns_read,
                    "estimated_cache_read_tokens": read,
                    "estimated_cache_write_tokens": written,
                    "cache_read_tokens_in_records": row["cached_now"],
                    "min_cacheable_tokens": rules.min_tokens,
                    "cache_ttl_minutes": rules.ttl.total_seconds() / 60,
                    "aggregated_calls_left_out": row["n_agg"],
                },
            )
        )
    return out
