"""Aggregated rows: a row with ``requests`` = N stands for N calls (a provider's hourly or
daily usage report, or a rollup kept at ingest). What detectors can still see on them:

- counts, sums and costs: exactly (every detector counts calls, not rows);
- per-call averages (tokens per call): exactly; per-call distributions (percentiles): not;
- timing inside a row: not. ``rollup_seconds`` infers the rollup period from the timestamps of
  the aggregated rows (all on the day: a day; on the hour: an hour; on the minute: a minute;
  else assumed a day), which bounds how many cache lifetimes a row can span;
- links between calls (``retry_of``, the order of turns in a conversation): not.
"""

from __future__ import annotations

import polars as pl

from netra.pricing.catalogue import COUNT_COLUMNS

DAY_S = 86_400
_PERIODS = (DAY_S, 3_600, 60)


def rollup_seconds(frame: pl.DataFrame) -> int:
    """The period an aggregated row covers, inferred from the timestamps of the rows with
    ``requests`` > 1 (a day when unknown: the longest a rollup usually covers, so the most
    conservative for any claim about timing)."""
    rows = frame.filter(pl.col("requests") > 1)
    if rows.height == 0:
        return 0
    seconds = rows.select(pl.col("timestamp").dt.epoch("s"))
    for period in _PERIODS:
        if int(seconds.select((pl.col("timestamp") % period != 0).sum()).item()) == 0:
            return period
    return DAY_S


def describe(period: int) -> str:
    return {DAY_S: "daily", 3_600: "hourly", 60: "per-minute"}.get(period, f"{period}-second")


ROLLUP_KEYS = ("provider", "model", "feature", "user", "status", "batch")


def roll_up(
    frame: pl.DataFrame, every: str = "1h", keys: tuple[str, ...] = ROLLUP_KEYS
) -> pl.DataFrame:
    """Usage rows (``frame.SCHEMA``) summed per ``every`` period (a polars duration: ``1h``,
    ``1d``) and ``keys``: the aggregated rows a rollup kept at ingest would hold. Token counts
    and ``requests`` add up; ``cost_usd`` adds up apart for billed and unbilled rows (a sum
    with an unknown part would be wrong); ``latency_ms`` is the mean per call; call links
    (``request_id``, ``retry_of``) and keys left out are dropped. Every total of a report on the
    result equals the one on ``frame``; what each finding still sees: ``docs/pricing.md``."""
    from netra.analysis.frame import conform

    work = conform(frame).with_columns(pl.col("cost_usd").is_not_null().alias("_billed"))
    rolled = work.group_by(pl.col("timestamp").dt.truncate(every), *keys, "_billed").agg(
        *[pl.col(c).sum() for c in COUNT_COLUMNS],
        pl.col("cost_usd").sum(),
        ((pl.col("latency_ms") * pl.col("requests")).sum() / pl.col("requests").sum()).alias(
            "latency_ms"
        ),
    )
    return conform(
        rolled.with_columns(pl.when(pl.col("_billed")).then(pl.col("cost_usd")).alias("cost_usd"))
    ).sort("timestamp", maintain_order=True)
