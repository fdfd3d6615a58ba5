"""Price look-ups: the ``genai-prices`` catalogue, the prices file over it, and the rules the
catalogue lacks (``rates.py``).

- Provider aliases are normalised first (``vertex`` -> ``google``, ``azure_openai`` -> ``azure``,
  ``aws`` -> ``bedrock``...); the catalogue resolves model aliases (``gpt-4o-2024-08-06`` ->
  ``gpt-4o``), and the resolved catalogue id is the model's name in every report.
- Prices are looked up at each record's timestamp; a lookup is cached per (provider, model,
  price epoch, batch), the epoch being the number of the model's dated price changes in force
  (or the time itself for the few models priced by time of day).
- A model the prices file (``NETRA_PRICES_FILE``) names takes the file's price from the
  entry's date on; a model neither knows stays unpriced (null), never $0.
- ``batch``: the catalogue's batch variant where it has one at that date, else the provider's
  published batch discount (``rates.PUBLISHED_BATCH_PRICE``); which (provider, model) needed
  the published discount is kept in ``batch_assumed`` so the report can say so.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

from genai_prices import data_snapshot
from genai_prices import types as gp

from netra.pricing.overrides import PriceOverrides, PricesFileError, load_prices_file
from netra.pricing.rates import PUBLISHED_BATCH_PRICE, Rate, Rates, with_one_hour_writes

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

PRICE_UNITS = ("input", "cache_read", "cache_write", "cache_write_1h", "output")
_PRICE_KEYS = {
    "input": "input_mtok",
    "cache_read": "cache_read_mtok",
    "cache_write": "cache_write_mtok",
    "output": "output_mtok",
}
_BATCH_CONTEXT: gp.PriceContext = {"processing": "batch"}


def normalize_provider(provider: str) -> str:
    key = provider.strip().lower()
    return PROVIDER_ALIASES.get(key, key)


def _rate(value: Decimal | gp.TieredPrices | None) -> Rate | None:
    if value is None:
        return None
    if isinstance(value, gp.TieredPrices):
        tiers = tuple((t.start, float(t.price) / 1e6) for t in value.tiers)
        return Rate(float(value.base) / 1e6, tiers)
    return Rate(float(value) / 1e6)


class Catalogue:
    """Cached look-ups in the genai-prices snapshot (one per engine run or app), with the
    prices file over it (default: the one ``NETRA_PRICES_FILE`` names)."""

    def __init__(
        self,
        snapshot: data_snapshot.DataSnapshot | None = None,
        overrides: PriceOverrides | None = None,
    ) -> None:
        self._snapshot = snapshot or data_snapshot.get_snapshot()
        self._models: dict[tuple[str, str], gp.ModelInfo | None] = {}
        self._rates: dict[tuple[str, str, object, bool], Rates | None] = {}
        self._change_dates: dict[int, tuple[date, ...] | None] = {}
        self.overrides = overrides if overrides is not None else default_overrides()
        self.batch_assumed: set[tuple[str, str]] = set()  # published discount applied
        self.overridden: set[tuple[str, str]] = set()  # priced from the prices file

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

    def model_id(self, provider: str, model: str) -> str | None:
        """The model's id for (normalised provider, raw model): the catalogue's, else the
        prices file's (lower-cased name), else None (unpriced)."""
        info = self.model_info(provider, model)
        if info is not None:
            return info.id
        name = model.strip().lower()
        if self.overrides and (provider, name) in self.overrides.models():
            return name
        return None

    def resolve(self, provider: str, model: str) -> str | None:
        """The model id (alias normalised), or None when unknown."""
        return self.model_id(normalize_provider(provider), model.strip())

    def _epoch(self, provider: str, model: str, at: datetime) -> object:
        """What the price at ``at`` depends on: the number of the model's dated price changes
        already in force, in the catalogue and in the prices file (so days between two
        changes share one look-up), or ``at`` itself for a model priced by time of day."""
        info = self.model_info(provider, model)
        day = at.astimezone(UTC).date()
        file_epoch = 0
        if self.overrides:
            file_epoch = bisect_right(self.overrides.change_dates(provider, model), day)
        if info is None:
            return file_epoch
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
            return (at, file_epoch)
        return (bisect_right(dates, day), file_epoch)

    def time_of_day_priced(self, provider: str, model: str) -> bool:
        info = self.model_info(provider, model)
        if info is None or isinstance(info.prices, gp.ModelPrice):
            return False
        return any(isinstance(c.constraint, gp.TimeOfDateConstraint) for c in info.prices)

    def rates(
        self, provider: str, model: str, at: datetime, *, batch: bool = False
    ) -> Rates | None:
        """Per-token rates of (normalised provider, model id) at ``at``; None when unpriced."""
        key = (provider, model, self._epoch(provider, model, at), batch)
        if key not in self._rates:
            self._rates[key] = self._lookup(provider, model, at, batch)
        return self._rates[key]

    def _lookup(self, provider: str, model: str, at: datetime, batch: bool) -> Rates | None:
        day = at.astimezone(UTC).date()
        entry = self.overrides.entry(provider, model, day, batch) if self.overrides else None
        if entry is not None:
            self.overridden.add((provider, model))
            if entry.explicit_1h:
                return entry.rates
            return with_one_hour_writes(entry.rates, provider, model)
        from_file = self.overrides.entry(provider, model, day, False) if self.overrides else None
        if from_file is not None:  # the file's interactive price; its batch price is derived
            normal = self.rates(provider, model, at)
        else:
            normal = self._catalogue_rates(provider, model, at, batch=False)
        if not batch or normal is None:
            return normal
        if from_file is None:
            found = self._catalogue_rates(provider, model, at, batch=True)
            if found is not None and found != normal:
                return found  # the catalogue's own batch price
        share = PUBLISHED_BATCH_PRICE.get(provider)
        if share is None:
            return normal
        self.batch_assumed.add((provider, model))
        return normal.scaled(share)

    def _catalogue_rates(
        self, provider: str, model: str, at: datetime, *, batch: bool
    ) -> Rates | None:
        info = self.model_info(provider, model)
        if info is None:
            return None
        prices = info.get_prices(at, _BATCH_CONTEXT if batch else None)
        found = {unit: _rate(getattr(prices, key)) for unit, key in _PRICE_KEYS.items()}
        base = found["input"]
        if base is None and found["output"] is None:
            return None
        base = base or Rate(0.0)
        rates = Rates(
            input=base,
            cache_read=found["cache_read"] or base,
            cache_write=found["cache_write"] or base,
            output=found["output"] or Rate(0.0),
        )
        return with_one_hour_writes(rates, provider, info.id)

    def has_batch_discount(self, provider: str, model: str, at: datetime) -> bool:
        normal = self.rates(provider, model, at)
        batch = self.rates(provider, model, at, batch=True)
        return normal is not None and batch is not None and batch.output.base < normal.output.base


def prices_file_problem(path: Path | None) -> str | None:
    """Why the prices file cannot be used (start-up and ``netra check-config`` refuse it),
    or None."""
    if path is None:
        return None
    try:
        _load_cached(str(path), path.stat().st_mtime_ns if path.exists() else 0)
    except PricesFileError as exc:
        return f"NETRA_PRICES_FILE: {exc}"
    return None


def default_overrides() -> PriceOverrides:
    """The prices file ``NETRA_PRICES_FILE`` names (read once per path and change time)."""
    from netra.core.settings import load_settings

    path = load_settings().prices_file
    if path is None:
        return PriceOverrides()
    stat = path.stat() if path.exists() else None
    return _load_cached(str(path), stat.st_mtime_ns if stat else 0)


@cache
def _load_cached(path: str, _mtime: int) -> PriceOverrides:
    catalogue = Catalogue(overrides=PriceOverrides())  # only to resolve model aliases
    return load_prices_file(
        Path(path),
        normalize=normalize_provider,
        resolve=lambda p, m: info.id if (info := catalogue.model_info(p, m)) else None,
    )
