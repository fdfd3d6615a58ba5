"""Prices from the ``genai-prices`` catalogue, applied to whole frames at once.

- Provider aliases are normalised first (``vertex`` -> ``google``, ``azure_openai`` -> ``azure``,
  ``aws`` -> ``bedrock``...); the catalogue resolves model aliases (``gpt-4o-2024-08-06`` ->
  ``gpt-4o``), and the resolved catalogue id is the model's name in every report.
- Prices are looked up at each record's timestamp: once per (provider, model, period, batch)
  group, the period being the UTC day (the catalogue's price changes are dated), or the half hour
  for the few models whose price depends on the time of day. 1M records make a few hundred
  lookups; the arithmetic is one vectorised Polars expression.
- ``input_tokens`` counts every prompt token (API.md): uncached input = input - cached - writes.
  Cached reads and cache writes use their own price where the catalogue has one, else the input
  price (the catalogue's own rule). Long-context tiers apply the tier's rate to all tokens when
  the prompt exceeds the threshold. ``batch`` records use the catalogue's batch variant where it
  has one at that date.
- A provider or model the catalogue does not know leaves the record unpriced (null), never $0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import polars as pl
from genai_prices import data_snapshot
from genai_prices import types as gp

PROVIDER_ALIASES: dict[str, str] = {
    "aws": "bedrock",
    "amazon": "bedrock",
    "amazon-bedrock": "bedrock",
    "aws-bedrock": "bedrock",
    "bedrock": "bedrock",
    "vertex": "google",
    "vertex_ai": "google",
    "vertex-ai": "google",
    "gemini": "google",
    "google-vertex": "google",
    "google-gla": "google",
    "azure_openai": "azure",
    "azure-openai": "azure",
    "azureopenai": "azure",
    "xai": "x-ai",
    "grok": "x-ai",
    "mistralai": "mistral",
    "mistral-ai": "mistral",
    "together_ai": "together",
    "togetherai": "together",
    "fireworks_ai": "fireworks",
    "fireworks-ai": "fireworks",
}
# Our provider name -> the catalogue's provider id where they differ.
CATALOGUE_PROVIDER: dict[str, str] = {"bedrock": "aws"}

PRICE_UNITS = ("input", "cache_read", "cache_write", "output")
_PRICE_KEYS = {
    "input": "input_mtok",
    "cache_read": "cache_read_mtok",
    "cache_write": "cache_write_mtok",
    "output": "output_mtok",
}
_MAX_TIERS = 2
_BATCH_CONTEXT: gp.PriceContext = {"processing": "batch"}


def normalize_provider(provider: str) -> str:
    key = provider.strip().lower()
    return PROVIDER_ALIASES.get(key, key)


@dataclass(frozen=True, slots=True)
class Rate:
    """USD per token: ``base`` below every tier, else the price of the highest tier crossed."""

    base: float
    tiers: tuple[tuple[int, float], ...] = ()

    def at(self, prompt_tokens: int) -> float:
        price = self.base
        for start, tier_price in self.tiers:
            if prompt_tokens > start:
                price = tier_price
        return price


@dataclass(frozen=True, slots=True)
class Rates:
    input: Rate
    cache_read: Rate
    cache_write: Rate
    output: Rate

    def cost(
        self, input_tokens: int, output_tokens: int, cached: int = 0, writes: int = 0
    ) -> float:
        """Price of one call (scalar twin of the vectorised ``cost_expr``)."""
        n = input_tokens
        return (
            (input_tokens - cached - writes) * self.input.at(n)
            + cached * self.cache_read.at(n)
            + writes * self.cache_write.at(n)
            + output_tokens * self.output.at(n)
        )


def _rate(value: Decimal | gp.TieredPrices | None) -> Rate | None:
    if value is None:
        return None
    if isinstance(value, gp.TieredPrices):
        tiers = tuple((t.start, float(t.price) / 1e6) for t in value.tiers)
        return Rate(float(value.base) / 1e6, tiers)
    return Rate(float(value) / 1e6)


class Catalogue:
    """Cached look-ups in the genai-prices snapshot (one per engine run or app)."""

    def __init__(self, snapshot: data_snapshot.DataSnapshot | None = None) -> None:
        self._snapshot = snapshot or data_snapshot.get_snapshot()
        self._models: dict[tuple[str, str], gp.ModelInfo | None] = {}
        self._rates: dict[tuple[str, str, datetime, bool], Rates | None] = {}

    def model_info(self, provider: str, model: str) -> gp.ModelInfo | None:
        """The catalogue model for a (normalised provider, model ref), or None."""
        key = (provider, model)
        if key not in self._models:
            info: gp.ModelInfo | None = None
            catalogue_id = CATALOGUE_PROVIDER.get(provider, provider)
            try:
                _, info = self._snapshot.find_provider_model(model, None, catalogue_id, None)
            except LookupError:
                info = self._by_id(catalogue_id, model)
            self._models[key] = info
            if info is not None:
                # Its catalogue id must find it again (some ids do not match their own rules).
                self._models.setdefault((provider, info.id), info)
        return self._models[key]

    def _by_id(self, catalogue_id: str, model_id: str) -> gp.ModelInfo | None:
        """Exact catalogue id (some ids do not match their own alias rules)."""
        for provider in self._snapshot.providers:
            if provider.id == catalogue_id:
                return next((m for m in provider.models if m.id == model_id), None)
        return None

    def resolve(self, provider: str, model: str) -> str | None:
        """The catalogue's model id (alias normalised), or None when unknown."""
        info = self.model_info(normalize_provider(provider), model.strip())
        return info.id if info is not None else None

    def time_of_day_priced(self, provider: str, model: str) -> bool:
        info = self.model_info(provider, model)
        if info is None or isinstance(info.prices, gp.ModelPrice):
            return False
        return any(isinstance(c.constraint, gp.TimeOfDateConstraint) for c in info.prices)

    def rates(
        self, provider: str, model: str, at: datetime, *, batch: bool = False
    ) -> Rates | None:
        """Per-token rates of (normalised provider, model) at ``at``; None when unpriced."""
        key = (provider, model, at, batch)
        if key in self._rates:
            return self._rates[key]
        info = self.model_info(provider, model)
        result: Rates | None = None
        if info is not None:
            prices = info.get_prices(at, _BATCH_CONTEXT if batch else None)
            found = {unit: _rate(getattr(prices, _PRICE_KEYS[unit])) for unit in PRICE_UNITS}
            base = found["input"]
            if base is not None or found["output"] is not None:
                base = base or Rate(0.0)
                result = Rates(
                    input=base,
                    cache_read=found["cache_read"] or base,
                    cache_write=found["cache_write"] or base,
                    output=found["output"] or Rate(0.0),
                )
        self._rates[key] = result
        return result

    def has_batch_discount(self, provider: str, model: str, at: datetime) -> bool:
        normal = self.rates(provider, model, at)
        batch = self.rates(provider, model, at, batch=True)
        return normal is not None and batch is not None and batch.output.base < normal.output.base


# --- vectorised pricing -------------------------------------------------------------------

_RATE_COLUMNS = [
    f"_r_{unit}_{part}"
    for unit in PRICE_UNITS
    for part in ("b", *[f"{kind}{i}" for i in range(1, _MAX_TIERS + 1) for kind in ("s", "p")])
]


def _rate_row(rates: Rates | None) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(_RATE_COLUMNS)
    if rates is None:
        return row
    for unit in PRICE_UNITS:
        rate: Rate = getattr(rates, unit)
        row[f"_r_{unit}_b"] = rate.base
        for i, (start, price) in enumerate(rate.tiers[:_MAX_TIERS], start=1):
            row[f"_r_{unit}_s{i}"] = start
            row[f"_r_{unit}_p{i}"] = price
    return row


def _rate_expr(unit: str) -> pl.Expr:
    prompt = pl.col("input_tokens")
    expr: Any = pl
    for i in range(_MAX_TIERS, 0, -1):
        start = pl.col(f"_r_{unit}_s{i}")
        expr = expr.when(start.is_not_null() & (prompt > start)).then(pl.col(f"_r_{unit}_p{i}"))
    result: pl.Expr = expr.otherwise(pl.col(f"_r_{unit}_b"))
    return result


def cost_expr() -> pl.Expr:
    """Catalogue cost of each row from its token columns and joined rate columns."""
    uncached = pl.col("input_tokens") - pl.col("cached_input_tokens") - pl.col("cache_write_tokens")
    return (
        uncached * _rate_expr("input")
        + pl.col("cached_input_tokens") * _rate_expr("cache_read")
        + pl.col("cache_write_tokens") * _rate_expr("cache_write")
        + pl.col("output_tokens") * _rate_expr("output")
    )


def _period_expr(time_of_day: pl.Expr) -> pl.Expr:
    ts = pl.col("timestamp")
    return pl.when(time_of_day).then(ts.dt.truncate("30m")).otherwise(ts.dt.truncate("1d"))


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
        "timestamp",
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        (pl.lit(provider) if provider is not None else pl.col("provider_n")).alias("_p"),
        (pl.lit(model) if model is not None else pl.col("model_n")).alias("_m"),
        (pl.lit(batch) if batch is not None else pl.col("batch")).alias("_batch"),
    )
    pairs = work.select("_p", "_m").unique()
    tod = [
        (p, m)
        for p, m in pairs.iter_rows()
        if p is not None and m is not None and catalogue.time_of_day_priced(p, m)
    ]
    tod_expr = pl.lit(False)
    for p, m in tod:
        tod_expr = tod_expr | ((pl.col("_p") == p) & (pl.col("_m") == m))
    work = work.with_columns(_period_expr(tod_expr).alias("_period"))
    keys = work.select("_p", "_m", "_period", "_batch").unique()
    rows = []
    for p, m, period, is_batch in keys.iter_rows():
        rates = None
        if p is not None and m is not None:
            rates = catalogue.rates(p, m, period, batch=bool(is_batch))
        rows.append(_rate_row(rates))
    table = pl.concat(
        [keys, pl.DataFrame(rows, schema=dict.fromkeys(_RATE_COLUMNS, pl.Float64))],
        how="horizontal",
    )
    priced = work.join(table, on=["_p", "_m", "_period", "_batch"], how="left", nulls_equal=True)
    return priced.select(cost_expr().alias("cost")).to_series()


def price_frame(frame: pl.DataFrame, catalogue: Catalogue) -> pl.DataFrame:
    """Add ``provider_n``, ``model_n`` (catalogue id, or the raw model when unknown),
    ``priced``, ``catalogue_cost`` and ``cost`` (as billed when ``cost_usd`` is given, else the
    catalogue price; null when neither exists)."""
    pairs = frame.select("provider", "model").unique()
    names = []
    for provider, model in pairs.iter_rows():
        p = normalize_provider(provider)
        info = catalogue.model_info(p, model.strip())
        names.append((p, info.id if info else model.strip().lower(), info is not None))
    mapping = pl.concat(
        [
            pairs,
            pl.DataFrame(
                names,
                schema={"provider_n": pl.String, "model_n": pl.String, "priced": pl.Boolean},
                orient="row",
            ),
        ],
        how="horizontal",
    )
    out = frame.join(mapping, on=["provider", "model"], how="left")
    known = out.with_columns(
        pl.when(pl.col("priced")).then(pl.col("model_n")).otherwise(None).alias("_m_known")
    )
    cat = catalogue_cost(known.with_columns(pl.col("_m_known").alias("model_n")), catalogue)
    return out.with_columns(cat.alias("catalogue_cost")).with_columns(
        pl.coalesce(pl.col("cost_usd"), pl.col("catalogue_cost")).alias("cost"),
        pl.coalesce(pl.col("cost_usd"), pl.col("catalogue_cost")).is_not_null().alias("priced"),
    )
