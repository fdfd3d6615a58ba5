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

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
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
        self._rates: dict[tuple[str, str, object, bool], Rates | None] = {}
        self._change_dates: dict[int, tuple[date, ...] | None] = {}

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

    def _epoch(self, info: gp.ModelInfo | None, at: datetime) -> object:
        """What the price at ``at`` depends on: the number of the model's dated price changes
        already in force (so days between two changes share one look-up), or ``at`` itself
        for a model priced by time of day."""
        if info is None:
            return None
        known = id(info)  # the snapshot's objects live as long as the catalogue
        dates = self._change_dates.get(known, ())
        if known not in self._change_dates:
            constraints = [] if isinstance(info.prices, gp.ModelPrice) else info.prices
            found = [c.constraint for c in constraints]
            found += [v.constraint for v in info.price_variants or ()]
            if any(isinstance(c, gp.TimeOfDateConstraint) for c in found):
                dates = None
            else:
                dates = tuple(
                    sorted({c.start_date for c in found if isinstance(c, gp.StartDateConstraint)})
                )
            self._change_dates[known] = dates
        if dates is None:
            return at
        return bisect_right(dates, at.astimezone(UTC).date())

    def time_of_day_priced(self, provider: str, model: str) -> bool:
        info = self.model_info(provider, model)
        if info is None or isinstance(info.prices, gp.ModelPrice):
            return False
        return any(isinstance(c.constraint, gp.TimeOfDateConstraint) for c in info.prices)

    def rates(
        self, provider: str, model: str, at: datetime, *, batch: bool = False
    ) -> Rates | None:
        """Per-token rates of (normalised provider, model) at ``at``; None when unpriced."""
        info = self.model_info(provider, model)
        key = (provider, model, self._epoch(info, at), batch)
        if key in self._rates:
            return self._rates[key]
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

_HALF_HOUR_US = 1_800_000_000
_HALF_HOURS_A_DAY = 48
_TOKENS = ("input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens")
_TOKEN_OF_UNIT = {
    "input": None,  # uncached input: computed
    "cache_read": "cached_input_tokens",
    "cache_write": "cache_write_tokens",
    "output": "output_tokens",
}


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
        price of the highest tier its prompt (default: ``input_tokens``) crosses."""
        levels = len(self.tiers[unit])
        if not levels:
            return pl.col(f"{unit}_b")
        prompt = pl.col("input_tokens") if prompt is None else prompt
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
    total = uncached * columns.rate("input", prompt)
    for unit in ("cache_read", "cache_write", "output"):
        total = total + pl.col(_TOKEN_OF_UNIT[unit] or "") * columns.rate(unit, prompt)
    return total


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
    cost = pl.concat([work.select(*_TOKENS), beside], how="horizontal").select(
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
        *_TOKENS,
        "timestamp",
        (pl.lit(provider) if provider is not None else pl.col("provider_n")).alias("_p"),
        (pl.lit(model) if model is not None else pl.col("model_n")).alias("_m"),
        (pl.lit(batch) if batch is not None else pl.col("batch")).alias("_batch"),
    )

    def names(p: str | None, m: str | None) -> tuple[str, str | None]:
        info = catalogue.model_info(p, m) if p is not None and m is not None else None
        return p or "", info.id if info else None

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
        *_TOKENS,
        "timestamp",
        pl.col("provider").cast(pl.Categorical).alias("_p"),
        pl.col("model").cast(pl.Categorical).alias("_m"),
        pl.col("batch").alias("_batch"),
    )
    shown: dict[tuple[Any, Any], tuple[str, str]] = {}

    def names(p_raw: str, m_raw: str) -> tuple[str, str | None]:
        p = normalize_provider(p_raw)
        info = catalogue.model_info(p, m_raw.strip())
        shown[(p_raw, m_raw)] = (p, info.id if info else m_raw.strip().lower())
        return p, info.id if info else None

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
