"""Prices from an override file (``NETRA_PRICES_FILE``): where the catalogue is wrong, stale or
lacks a model, a file of dated prices wins over it. Format (docs/pricing.md), TOML or JSON::

    [[prices]]
    provider = "anthropic"          # normalised like usage records (vertex -> google ...)
    model = "claude-sonnet-4-5"     # a catalogue alias resolves to its id; else a new model
    from = "2025-06-01"             # optional: in force from this UTC date (else always)
    batch = false                   # optional: true prices batch calls only
    input_mtok = 3.0                # USD per million tokens; input and output required
    output_mtok = 15.0
    cache_read_mtok = 0.3           # optional: default input
    cache_write_mtok = 3.75         # optional: default input
    cache_write_1h_mtok = 6.0       # optional: default 2x input for Claude, else cache_write

For a (provider, model) the file names, the newest entry in force at a call's date decides its
price; before the first entry, the catalogue's price applies. A bad file is refused whole, with
the entry and field named.
"""

from __future__ import annotations

import json
import tomllib
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from netra.pricing.rates import Rate, Rates

_UNITS = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
_KNOWN = {"provider", "model", "from", "batch", *(f"{u}_mtok" for u in _UNITS)}


class PricesFileError(ValueError):
    """The prices file cannot be used: the message names the file, entry and field."""


@dataclass(frozen=True, slots=True)
class Entry:
    provider: str
    model: str
    start: date
    batch: bool
    rates: Rates
    explicit_1h: bool


class PriceOverrides:
    """Entries by (provider, model, batch), each list sorted by start date."""

    def __init__(self, entries: Iterable[Entry] = (), source: str | None = None) -> None:
        self.source = source
        self._by_key: dict[tuple[str, str, bool], list[Entry]] = {}
        for entry in sorted(entries, key=lambda e: e.start):
            self._by_key.setdefault((entry.provider, entry.model, entry.batch), []).append(entry)

    def __bool__(self) -> bool:
        return bool(self._by_key)

    def models(self) -> set[tuple[str, str]]:
        return {(p, m) for p, m, _ in self._by_key}

    def change_dates(self, provider: str, model: str) -> tuple[date, ...]:
        found = self._by_key.get((provider, model, False), []) + self._by_key.get(
            (provider, model, True), []
        )
        return tuple(sorted({e.start for e in found}))

    def entry(self, provider: str, model: str, day: date, batch: bool) -> Entry | None:
        found = self._by_key.get((provider, model, batch))
        if not found:
            return None
        i = bisect_right([e.start for e in found], day)
        return found[i - 1] if i else None


def load_prices_file(
    path: Path, *, normalize: Callable[[str], str], resolve: Callable[[str, str], str | None]
) -> PriceOverrides:
    """Read and validate a TOML (``.toml``) or JSON prices file. ``normalize`` maps provider
    aliases; ``resolve(provider, model)`` gives the catalogue id of a model it knows."""
    name = str(path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        reason = exc.strerror or exc
        raise PricesFileError(f"{name}: cannot read the prices file: {reason}") from None
    try:
        doc: Any = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        kind = "TOML" if path.suffix.lower() == ".toml" else "JSON"
        raise PricesFileError(f"{name}: not valid {kind}: {exc}") from None
    items = doc.get("prices") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise PricesFileError(f"{name}: expected a top-level 'prices' list of entries")
    return PriceOverrides(
        [_entry(name, i, item, normalize, resolve) for i, item in enumerate(items, start=1)],
        source=name,
    )


def _entry(
    name: str,
    index: int,
    item: Any,
    normalize: Callable[[str], str],
    resolve: Callable[[str, str], str | None],
) -> Entry:
    where = f"{name}: prices entry {index}"
    if not isinstance(item, dict):
        raise PricesFileError(f"{where}: expected a table/object")
    unknown = sorted(set(item) - _KNOWN)
    if unknown:
        raise PricesFileError(f"{where}: unknown field {unknown[0]!r}")
    for key in ("provider", "model", "input_mtok", "output_mtok"):
        if key not in item:
            raise PricesFileError(f"{where}: missing required field {key!r}")
    provider, model = item["provider"], item["model"]
    if not isinstance(provider, str) or not provider.strip():
        raise PricesFileError(f"{where}: field 'provider' must be a non-empty string")
    if not isinstance(model, str) or not model.strip():
        raise PricesFileError(f"{where}: field 'model' must be a non-empty string")
    provider = normalize(provider)
    model_id = resolve(provider, model.strip()) or model.strip().lower()
    start = item.get("from", date.min)
    if isinstance(start, str):
        try:
            start = date.fromisoformat(start)
        except ValueError:
            raise PricesFileError(f"{where}: field 'from' must be a date YYYY-MM-DD") from None
    if not isinstance(start, date):
        raise PricesFileError(f"{where}: field 'from' must be a date YYYY-MM-DD")
    batch = item.get("batch", False)
    if not isinstance(batch, bool):
        raise PricesFileError(f"{where}: field 'batch' must be true or false")
    per_token: dict[str, float] = {}
    for unit in _UNITS:
        key = f"{unit}_mtok"
        if key not in item:
            continue
        value = item[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise PricesFileError(f"{where}: field {key!r} must be a number >= 0 (USD per MTok)")
        per_token[unit] = float(value) / 1e6
    base = Rate(per_token["input"])
    write = Rate(per_token.get("cache_write", per_token["input"]))
    rates = Rates(
        input=base,
        cache_read=Rate(per_token.get("cache_read", per_token["input"])),
        cache_write=write,
        output=Rate(per_token["output"]),
        cache_write_1h=Rate(per_token.get("cache_write_1h", write.base)),
    )
    return Entry(provider, model_id, start, batch, rates, "cache_write_1h" in per_token)
