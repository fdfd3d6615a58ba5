"""What the report says about how it priced the records (``pricing_notes``): the rules the
catalogue alone would not have applied, so a reader can reconcile the report with a bill."""

from __future__ import annotations

import polars as pl

from netra.analysis.rollups import describe, rollup_seconds
from netra.pricing.catalogue import Catalogue
from netra.pricing.rates import PUBLISHED_BATCH_PRICE, has_one_hour_writes


def _pairs(frame: pl.DataFrame) -> set[tuple[str, str]]:
    return {(str(p), str(m)) for p, m in frame.select("provider_n", "model_n").unique().iter_rows()}


def pricing_notes(priced: pl.DataFrame, catalogue: Catalogue) -> list[str]:
    """The notes for the models of ``priced`` (a catalogue shared by several analyses keeps
    what it learned from the others)."""
    notes: list[str] = []
    if priced.height == 0:
        return notes
    batched = _pairs(priced.filter(pl.col("batch")))
    for provider, model in sorted(catalogue.batch_assumed & batched):
        share = PUBLISHED_BATCH_PRICE[provider]
        notes.append(
            f"Batch calls to {model} ({provider}) are priced at {provider}'s published batch "
            f"discount ({1 - share:.0%} off): the catalogue has no batch price for them at "
            "their dates."
        )
    source = f" {catalogue.overrides.source}" if catalogue.overrides.source else ""
    for provider, model in sorted(catalogue.overridden & _pairs(priced)):
        notes.append(
            f"Prices of {model} ({provider}) come from the prices file{source} (NETRA_PRICES_FILE)."
        )
    one_hour = priced.filter(pl.col("cache_write_1h_tokens") > 0)
    if one_hour.height:
        claude = [
            (p, m)
            for p, m in one_hour.select("provider_n", "model_n").unique().iter_rows()
            if has_one_hour_writes(str(p), str(m))
        ]
        tokens = int(one_hour["cache_write_1h_tokens"].sum())
        notes.append(
            f"{tokens:,} cache-write tokens with a one-hour lifetime are priced at 2x the input "
            f"price on Claude models ({len(claude)} model(s)), at the cache-write price elsewhere."
        )
    aggregated = priced.filter(pl.col("requests") > 1)
    if aggregated.height:
        period = describe(rollup_seconds(priced))
        notes.append(
            f"{aggregated.height:,} of {priced.height:,} rows are aggregated ({period} rollups "
            f"of {int(aggregated['requests'].sum()):,} calls): each is priced per call, its "
            "average call deciding the long-context tier; every count is in calls, and each "
            "finding says what it cannot see inside a rollup."
        )
    return notes
