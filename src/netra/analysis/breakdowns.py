"""Spend breakdowns: the report's ``breakdown`` section, ``GET /usage/summary`` and the agent's
tools (``spend_breakdown``, ``top_spenders``, ``usage_trend``). All take a usage frame
(``frame.SCHEMA``) and price it when it is not priced yet. Every group counts ``records``
(rows) and ``requests`` (the calls they add up: a provider's hourly or daily rollup row stands
for many calls)."""

from __future__ import annotations

from typing import Any

import polars as pl

from netra.analysis.grouped_pricing import grouped_costs
from netra.analysis.money import pct, usd
from netra.pricing.catalogue import Catalogue, price_frame

GROUPS = ("model", "provider", "feature", "user", "day")
PERIODS = {"day": "1d", "week": "1w", "month": "1mo", "hour": "1h"}


def ensure_priced(frame: pl.DataFrame, catalogue: Catalogue | None = None) -> pl.DataFrame:
    if "cost" in frame.columns:
        return frame
    return price_frame(frame, catalogue or Catalogue())


def _key_expr(by: str) -> list[pl.Expr]:
    if by == "model":
        return [pl.col("model_n").alias("key"), pl.col("provider_n").alias("provider")]
    if by == "provider":
        return [pl.col("provider_n").alias("key")]
    if by in ("feature", "user"):
        return [pl.col(by).alias("key")]
    if by == "day":
        return [pl.col("timestamp").dt.date().alias("key")]
    raise ValueError(f"unknown group_by {by!r}: expected one of {', '.join(GROUPS)}")


def _calls(frame: pl.DataFrame) -> pl.Expr:
    """Calls of each row (``requests``: a rollup row adds up many; 1 when the frame has none)."""
    return pl.col("requests") if "requests" in frame.columns else pl.lit(1, pl.Int64)


def _aggregate(priced: pl.DataFrame, keys: list[pl.Expr]) -> pl.DataFrame:
    return priced.group_by(keys).agg(
        pl.len().alias("records"),
        _calls(priced).sum().alias("requests"),
        pl.col("cost").sum().alias("cost_usd"),
        pl.col("input_tokens").sum(),
        pl.col("output_tokens").sum(),
        pl.col("cached_input_tokens").sum(),
        pl.col("cost").is_null().sum().alias("unpriced_records"),
        (pl.col("status") != "ok").sum().alias("failed_records"),
    )


def _group_cost(row: dict[str, Any]) -> float | None:
    """A group's cost; None when none of its records has a price (API.md: usage no price is
    known for is never priced as $0; ``unpriced_records`` says how many there are)."""
    if row["records"] and row["unpriced_records"] >= row["records"]:
        return None
    return usd(row["cost_usd"])


def _rows(table: pl.DataFrame, total: float) -> list[dict[str, Any]]:
    out = []
    for row in table.iter_rows(named=True):
        key = row["key"]
        row["key"] = key.isoformat() if hasattr(key, "isoformat") else key
        cost = row["cost_usd"] = _group_cost(row)
        # The share of the priced spend (0 for a group with none).
        row["share_pct"] = pct(100.0 * (cost or 0.0) / total) if total > 0 else 0.0
        out.append(row)
    return out


def breakdowns_of_usage(
    frame: pl.DataFrame, bys: list[str], *, catalogue: Catalogue | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Breakdowns of an unpriced usage frame, priced per aggregate (``grouped_pricing``)."""
    for by in bys:
        _key_expr(by)  # refuse an unknown group before any work
    catalogue = catalogue or Catalogue()
    table = grouped_costs(frame, bys, catalogue)
    if table is None:  # per-row pricing needed
        priced = price_frame(frame, catalogue)
        return {by: spend_breakdown(priced, by) for by in bys}
    total = float(table["cost"].sum() or 0.0)
    out = {}
    for by in bys:
        keys = [pl.col(_GROUPED_KEY[by]).alias("key")]
        if by == "model":
            keys.append(pl.col("provider_n").alias("provider"))
        rolled = table.group_by(keys).agg(
            pl.col("records").sum(),
            pl.col("requests").sum(),
            pl.col("cost").sum().alias("cost_usd"),
            pl.col("input_tokens").sum(),
            pl.col("output_tokens").sum(),
            pl.col("cached_input_tokens").sum(),
            pl.col("unpriced_records").sum(),
            pl.col("failed_records").sum(),
        )
        out[by] = _rows(_order(rolled, by), total)
    return out


_GROUPED_KEY = {
    "model": "model_n",
    "provider": "provider_n",
    "feature": "feature",
    "user": "user",
    "day": "day",
}


def _order(table: pl.DataFrame, by: str) -> pl.DataFrame:
    if by == "day":
        return table.sort("key")
    return table.sort(["cost_usd", "records"], descending=True, nulls_last=True)


def spend_breakdown(
    frame: pl.DataFrame, by: str, *, catalogue: Catalogue | None = None
) -> list[dict[str, Any]]:
    """Totals per group (``by`` in GROUPS): most expensive first, days in date order."""
    if "cost" not in frame.columns:
        return breakdowns_of_usage(frame, [by], catalogue=catalogue)[by]
    priced = frame
    table = _aggregate(priced, _key_expr(by))
    if by == "day":
        table = table.sort("key")
    else:
        table = table.sort(["cost_usd", "records"], descending=True, nulls_last=True)
    total = float(priced["cost"].sum() or 0.0)
    return _rows(table, total)


_SUMMED = (
    "records",
    "requests",
    "cost_usd",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "unpriced_records",
    "failed_records",
)
_REPORT = {"by_model": "model", "by_provider": "provider", "by_feature": "feature", "by_day": "day"}


def report_breakdowns(priced: pl.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """The report's four breakdowns from one pass over the rows: aggregate once per (model,
    provider, feature, day), then roll that small table up four ways."""
    base = _aggregate(
        priced,
        [
            pl.col("model_n").alias("model"),
            pl.col("provider_n").alias("provider"),
            pl.col("feature"),
            pl.col("timestamp").dt.date().alias("day"),
        ],
    )
    total = float(priced["cost"].sum() or 0.0)
    out = {}
    for name, by in _REPORT.items():
        keys = [pl.col(by).alias("key")]
        if by == "model":
            keys.append(pl.col("provider"))
        table = base.group_by(keys).agg(pl.col(c).sum() for c in _SUMMED)
        if by == "day":
            table = table.sort("key")
        else:
            table = table.sort(["cost_usd", "records"], descending=True, nulls_last=True)
        out[name] = _rows(table, total)
    return out


def summary(
    frame: pl.DataFrame, group_by: str, *, catalogue: Catalogue | None = None
) -> list[dict[str, Any]]:
    """``GET /api/v1/usage/summary``: each group's key, records (rows), requests (calls),
    cost_usd, tokens, share."""
    return spend_breakdown(frame, group_by, catalogue=catalogue)


def split_summary(
    frame: pl.DataFrame, by: str, split_by: str, *, catalogue: Catalogue | None = None
) -> list[dict[str, Any]]:
    """``summary`` groups, each with ``split``: its totals per ``split_by`` value, most
    expensive first (the dashboard's spend over time stacked by model or feature)."""
    if split_by == by or split_by == "day":
        raise ValueError(f"split_by {split_by!r} must be another dimension than day and {by!r}")
    _key_expr(split_by)  # refuse an unknown dimension before any work
    priced = ensure_priced(frame, catalogue)
    groups = spend_breakdown(priced, by)
    inner_keys = [_key_expr(by)[0], pl.col(_GROUPED_KEY[split_by]).alias("split_key")]
    inner = _aggregate(priced, inner_keys).sort(
        ["cost_usd", "records"], descending=True, nulls_last=True
    )
    splits: dict[Any, list[dict[str, Any]]] = {}
    for row in inner.iter_rows(named=True):
        key = row.pop("key")
        key = key.isoformat() if hasattr(key, "isoformat") else key
        row["key"] = row.pop("split_key")
        row["cost_usd"] = _group_cost(row)
        splits.setdefault(key, []).append(row)
    for group in groups:
        group["split"] = splits.get(group["key"], [])
    return groups


def top_spenders(
    frame: pl.DataFrame, by: str, n: int = 10, *, catalogue: Catalogue | None = None
) -> list[dict[str, Any]]:
    return [row for row in spend_breakdown(frame, by, catalogue=catalogue) if row["key"] != ""][
        : max(0, n)
    ]


def usage_trend(
    frame: pl.DataFrame, period: str = "day", *, catalogue: Catalogue | None = None
) -> list[dict[str, Any]]:
    """Cost and records per period (hour, day, week, month), oldest first, with the change
    against the previous period."""
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}: expected one of {', '.join(PERIODS)}")
    priced = ensure_priced(frame, catalogue)
    table = (
        _aggregate(priced, [pl.col("timestamp").dt.truncate(PERIODS[period]).alias("key")])
        .sort("key")
        .with_columns(
            (100.0 * (pl.col("cost_usd") / pl.col("cost_usd").shift(1) - 1.0)).alias("change_pct")
        )
    )
    total = float(priced["cost"].sum() or 0.0)
    rows = _rows(table, total)
    for row in rows:
        row["change_pct"] = None if row["change_pct"] is None else pct(row["change_pct"])
    return rows
