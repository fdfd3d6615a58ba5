"""Prices applied to whole frames at once (the look-ups themselves: ``lookup.py``).

- Prices are looked up once per (provider, model, period, batch) group, the period being the
  UTC day (the catalogue's price changes are dated), or the half hour for the few models whose
  price depends on the time of day. 1M records make a few hundred lookups; the arithmetic is one
  vectorised Polars expression.
- ``input_tokens`` counts every prompt token (API.md): uncached input = input - cached - writes;
  ``cache_write_1h_tokens`` is the part of the writes with a one-hour lifetime.
- A row stands for ``requests`` calls (1 for a single call): long-context tiers apply when the
  prompt of its AVERAGE call (``input_tokens / requests``) exceeds the threshold, never its
  total. A source that splits its rows by tier (Anthropic's ``context_window``) therefore gets
  exactly the tier it names: every call of the row is on the same side, and so is their average.
- A provider or model neither the catalogue nor the prices file knows leaves the record
  unpriced (null), never $0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from netra.pricing.lookup import (
    PRICE_UNITS,
    PROVIDER_ALIASES,
    Catalogue,
    normalize_provider,
)
from netra.pricing.rates import Rate, Rates

__all__ = [
    "PRICE_UNITS",
    "PROVIDER_ALIASES",
    "Catalogue",
    "Rate",
    "RateColumns",
    "Rates",
    "catalogue_cost",
    "cost_expr",
    "normalize_provider",
    "per_call_prompt",
    "price_frame",
]

# --- vectorised pricing -------------------------------------------------------------------

_HALF_HOUR_US = 1_800_000_000
_HALF_HOURS_A_DAY = 48
# The counts of a record: what pricing reads, and what grouping rows sums (rollups, grouped
# pricing). The newer two default where a frame lacks them.
COUNT_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "requests",
)
_DEFAULTS = {"cache_write_1h_tokens": 0, "requests": 1}


def count_columns(frame: pl.DataFrame) -> list[pl.Expr]:
    """The frame's ``COUNT_COLUMNS``, defaulted where it lacks them."""
    return [
        pl.col(c) if c in frame.columns else pl.lit(_DEFAULTS[c], pl.Int64).alias(c)
        for c in COUNT_COLUMNS
    ]


def per_call_prompt() -> pl.Expr:
    """The prompt of a row's average call: what decides a long-context tier."""
    return pl.col("input_tokens") / pl.col("requests").clip(lower_bound=1)


@dataclass
class RateColumns:
    """Per-key rates (one list entry per key index), by unit: base, and (start, price) tiers."""

    base: dict[str, list[float | None]]
    tiers: dict[str, list[tuple[list[float | None], list[float | None]]]]

    @classmethod
    def of(cls, rates: list[Rates | None]) -> RateColumns:
        base: dict[str, list[float | None]] = {}
        tiers: dict[str, list[tuple[list[float | None], list[float | None]]]] = {}
        for unit in PRICE_UNITS:
            found = [getattr(r, unit) if r is not None else None for r in rates]
            base[unit] = [rate.base if rate is not None else None for rate in found]
            depth = max((len(rate.tiers) for rate in found if rate is not None), default=0)
            tiers[unit] = []
            for i in range(depth):
                starts: list[float | None] = []
                prices: list[float | None] = []
                for rate in found:
                    tier = rate.tiers[i] if rate is not None and i < len(rate.tiers) else None
                    starts.append(float(tier[0]) if tier else None)
                    prices.append(tier[1] if tier else None)
                tiers[unit].append((starts, prices))
        return cls(base, tiers)

    def table(self) -> pl.DataFrame:
        """One row per key: ``{unit}_b`` and, where some key has tiers, ``{unit}_s{i}`` and
        ``{unit}_p{i}``."""
        columns: dict[str, list[float | None]] = {}
        for unit in PRICE_UNITS:
            columns[f"{unit}_b"] = self.base[unit]
            for i, (starts, prices) in enumerate(self.tiers[unit], start=1):
                columns[f"{unit}_s{i}"] = starts
                columns[f"{unit}_p{i}"] = prices
        return pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.Float64))

    def rate(self, unit: str, prompt: pl.Expr | None = None) -> pl.Expr:
        """The rate of each row (rate columns gathered beside it): its key's base, or the
        price of the highest tier its prompt (default: its average call's) crosses."""
        levels = len(self.tiers[unit])
        if not levels:
            return pl.col(f"{unit}_b")
        prompt = per_call_prompt() if prompt is None else prompt
        expr: Any = pl
        for i in range(levels, 0, -1):
            start = pl.col(f"{unit}_s{i}")
            expr = expr.when(start.is_not_null() & (prompt > start)).then(pl.col(f"{unit}_p{i}"))
        result: pl.Expr = expr.otherwise(pl.col(f"{unit}_b"))
        return result


def cost_expr(columns: RateColumns, prompt: pl.Expr | None = None) -> pl.Expr:
    """Tokens x rates. Linear in the token counts, so it also prices sums of tokens that share
    their rates (``prompt`` then says which tier they are in)."""
    uncached = pl.col("input_tokens") - pl.col("cached_input_tokens") - pl.col("cache_write_tokens")
    five_minute = pl.col("cache_write_tokens") - pl.col("cache_write_1h_tokens")
    return (
        uncached * columns.rate("input", prompt)
        + pl.col("cached_input_tokens") * columns.rate("cache_read", prompt)
        + five_minute * columns.rate("cache_write", prompt)
        + pl.col("cache_write_1h_tokens") * columns.rate("cache_write_1h", prompt)
        + pl.col("output_tokens") * columns.rate("output", prompt)
    )


Names = Callable[[Any, Any], tuple[str, str | None]]


def _priced(
    work: pl.DataFrame, catalogue: Catalogue, names: Names
) -> tuple[pl.Series, pl.Series, pl.DataFrame]:
    """Cost of ``work`` rows (token columns, ``timestamp``, ``_p``, ``_m``, ``_batch``), each
    row's key index, and ``keys`` (``_k``, ``_p``, ``_m``, ...) in index order. ``names(_p,
    _m)`` gives the normalised provider and catalogue model (None if unknown).

    Prices are looked up once per (provider, model, period, batch): the period is the UTC day,
    or the half hour for models priced by time of day. Integer periods, categorical names and a
    single join that only adds a key index keep this cheap on millions of rows."""
    half = pl.col("timestamp").dt.epoch("us") // _HALF_HOUR_US
    day = (half // _HALF_HOURS_A_DAY) * _HALF_HOURS_A_DAY
    on = ["_p", "_m", "_period", "_batch"]
    work = work.with_columns(day.alias("_period"))
    keys = work.select(on).unique()
    tod = set()
    for p_raw, m_raw in keys.select("_p", "_m").unique().iter_rows():
        provider, model = names(p_raw, m_raw)
        if model is not None and catalogue.time_of_day_priced(provider, model):
            tod.add((p_raw, m_raw))
    if tod:  # rare: those models get half-hour periods
        is_tod = pl.lit(False)
        for p_raw, m_raw in tod:
            is_tod = is_tod | ((pl.col("_p") == p_raw) & (pl.col("_m") == m_raw))
        work = work.with_columns(pl.when(is_tod).then(half).otherwise(day).alias("_period"))
        keys = work.select(on).unique()
    keys = keys.with_row_index("_k")
    index = work.join(keys, on=on, how="left", nulls_equal=True, maintain_order="left")["_k"]
    rates: list[Rates | None] = []
    for _, p_raw, m_raw, period_value, is_batch in keys.iter_rows():
        provider, model = names(p_raw, m_raw)
        at = datetime.fromtimestamp(period_value * 1800, tz=UTC)
        rates.append(catalogue.rates(provider, model, at, batch=bool(is_batch)) if model else None)
    columns = RateColumns.of(rates)
    beside = columns.table()[index]  # gather each row's key rates: cheap primitive copies
    cost = pl.concat([work.select(*COUNT_COLUMNS), beside], how="horizontal").select(
        cost_expr(columns).alias("cost")
    )
    return cost.to_series(), index, keys


def catalogue_cost(
    frame: pl.DataFrame,
    catalogue: Catalogue,
    *,
    provider: str | None = None,
    model: str | None = None,
    batch: bool | None = None,
) -> pl.Series:
    """Catalogue price of every row of ``frame`` (token columns, timestamp, and normalised
    ``provider_n``/``model_n`` columns unless ``provider``/``model`` override them for a
    what-if). ``batch`` None uses each row's own ``batch`` flag. Null where unpriced."""
    if frame.height == 0:
        return pl.Series("cost", [], dtype=pl.Float64)
    work = frame.select(
        *count_columns(frame),
        "timestamp",
        (pl.lit(provider) if provider is not None else pl.col("provider_n")).alias("_p"),
        (pl.lit(model) if model is not None else pl.col("model_n")).alias("_m"),
        (pl.lit(batch) if batch is not None else pl.col("batch")).alias("_batch"),
    )

    def names(p: str | None, m: str | None) -> tuple[str, str | None]:
        found = catalogue.model_id(p, m) if p is not None and m is not None else None
        return p or "", found

    return _priced(work, catalogue, names)[0]


def price_frame(frame: pl.DataFrame, catalogue: Catalogue) -> pl.DataFrame:
    """Add ``provider_n``, ``model_n`` (categorical: the normalised provider, and the catalogue
    id or the raw model when unknown),
    ``priced``, ``catalogue_cost`` and ``cost`` (as billed when ``cost_usd`` is given, else the
    catalogue price; null when neither exists)."""
    if frame.height == 0:
        return frame.with_columns(
            pl.lit(None, pl.Categorical).alias("provider_n"),
            pl.lit(None, pl.Categorical).alias("model_n"),
            pl.lit(None, pl.Float64).alias("catalogue_cost"),
            pl.lit(None, pl.Float64).alias("cost"),
            pl.lit(False).alias("priced"),
        )
    work = frame.select(
        *count_columns(frame),
        "timestamp",
        pl.col("provider").cast(pl.Categorical).alias("_p"),
        pl.col("model").cast(pl.Categorical).alias("_m"),
        pl.col("batch").alias("_batch"),
    )
    shown: dict[tuple[Any, Any], tuple[str, str]] = {}

    def names(p_raw: str, m_raw: str) -> tuple[str, str | None]:
        p = normalize_provider(p_raw)
        found = catalogue.model_id(p, m_raw.strip())
        shown[(p_raw, m_raw)] = (p, found or m_raw.strip().lower())
        return p, found

    cost, index, keys = _priced(work, catalogue, names)
    provider_n, model_n = _names_by_row(keys, index, shown)
    return frame.with_columns(provider_n, model_n, cost.alias("catalogue_cost")).with_columns(
        pl.coalesce(pl.col("cost_usd"), pl.col("catalogue_cost")).alias("cost"),
        pl.coalesce(pl.col("cost_usd"), pl.col("catalogue_cost")).is_not_null().alias("priced"),
    )


def _names_by_row(
    keys: pl.DataFrame, index: pl.Series, shown: dict[tuple[Any, Any], tuple[str, str]]
) -> tuple[pl.Series, pl.Series]:
    """``provider_n``/``model_n`` per row, gathered through the key index (``keys`` rows are
    in ``_k`` order)."""
    providers: list[str] = []
    models: list[str] = []
    for p_raw, m_raw in keys.select("_p", "_m").iter_rows():
        provider, model = shown[(p_raw, m_raw)]
        providers.append(provider)
        models.append(model)
    # Categorical: gathering codes is much cheaper than copying a million strings, and every
    # later group-by on these columns is faster too.
    gathered = pl.select(
        pl.lit(pl.Series(providers, dtype=pl.Categorical)).gather(index).alias("provider_n"),
        pl.lit(pl.Series(models, dtype=pl.Categorical)).gather(index).alias("model_n"),
    )
    return gathered["provider_n"], gathered["model_n"]
