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
