"""cost_mismatch (informational, saves nothing by itself): billed cost far from the catalogue,
and a reconciliation that explains the gap by cause.

Rule: per (provider, model), over the calls that carry ``cost_usd`` and that the catalogue
prices, fire when the billed total differs from the catalogue total by at least
``MIN_DIFF_SHARE`` of the catalogue total and by at least ``MIN_DIFF_OF_TOTAL`` of the whole
period's spend (small change on a small model is noise to the reader).

Reconciliation: each billed row is compared with what the catalogue charges under each known
cause of a gap, and its gap (billed - catalogue) is put under the first cause its bill matches
within ``MATCH_TOLERANCE``:

- ``batch_not_flagged``: billed at the batch price, but the record does not say ``batch``;
- ``one_hour_cache_writes``: billed as if its cache writes had a one-hour lifetime, but the
  record does not give ``cache_write_1h_tokens``;
- ``long_context_inside_rollup``: an aggregated row billed at the long-context tier although
  its average call is below the threshold (some of its calls were long: the source should split
  its rows by tier);
- ``price_difference``: anything else: a contract rate, a price change the catalogue missed
  (give it in ``NETRA_PRICES_FILE``), or cost attributed to the wrong calls. The evidence gives
  its billed/catalogue ratio and the days it spans.

Rows whose bill matches the catalogue add nothing to any cause.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from netra.analysis.detectors.base import Context
from netra.analysis.findings import COST_MISMATCH, Candidate
from netra.pricing.catalogue import catalogue_cost

MIN_DIFF_SHARE = 0.10
MIN_DIFF_OF_TOTAL = 0.002
MATCH_TOLERANCE = 0.01

CAUSES: dict[str, str] = {
    "batch_not_flagged": "billed at the batch price, but not marked batch in the records",
    "one_hour_cache_writes": (
        "cache writes billed at the one-hour price; give cache_write_1h_tokens in the records"
    ),
    "long_context_inside_rollup": (
        "aggregated rows billed at the long-context tier: some calls in them were long; split "
        "rows by context tier"
    ),
    "price_difference": (
        "a different price: a contract rate, a price change the catalogue missed (override it "
        "in NETRA_PRICES_FILE), or cost attributed to the wrong calls"
    ),
}


def reconcile(ctx: Context, rows: pl.DataFrame) -> list[dict[str, Any]]:
    """The gap between billed and catalogue cost of ``rows``, by cause (largest first)."""
    alternatives = {
        "batch_not_flagged": (rows.filter(~pl.col("batch")), {"batch": True}),
        "one_hour_cache_writes": (
            rows.filter(
                (pl.col("cache_write_tokens") > 0) & (pl.col("cache_write_1h_tokens") == 0)
            ),
            {"one_hour": True},
        ),
        "long_context_inside_rollup": (rows.filter(pl.col("_agg")), {"rollup_total": True}),
    }
    close = (pl.col("cost_usd") - pl.col("_alt")).abs() <= MATCH_TOLERANCE * pl.col("_alt")
    matches_list = (pl.col("cost_usd") - pl.col("catalogue_cost")).abs() <= (
        MATCH_TOLERANCE * pl.col("catalogue_cost")
    )
    explained: dict[int, str] = {}
    for cause, (subset, change) in alternatives.items():
        if subset.height == 0:
            continue
        changed = subset
        if change.get("one_hour"):
            changed = subset.with_columns(
                pl.col("cache_write_tokens").alias("cache_write_1h_tokens")
            )
        if change.get("rollup_total"):
            changed = subset.with_columns(pl.lit(1, pl.Int64).alias("requests"))
        alt = catalogue_cost(changed, ctx.catalogue, batch=True if change.get("batch") else None)
        hit = subset.with_columns(alt.alias("_alt")).filter(
            close & ~matches_list & (pl.col("_alt") != pl.col("catalogue_cost"))
        )
        for row_id in hit["_row"].to_list():
            explained.setdefault(row_id, cause)
    labelled = rows.with_columns(
        pl.col("_row")
        .replace_strict(explained, default="price_difference", return_dtype=pl.String)
        .alias("_cause"),
    ).filter(~matches_list)
    table = (
        labelled.group_by("_cause")
        .agg(
            pl.col("_calls").sum().alias("calls"),
            pl.col("cost_usd").sum().alias("billed"),
            pl.col("catalogue_cost").sum().alias("catalogue"),
            pl.col("_day").min().alias("first"),
            pl.col("_day").max().alias("last"),
        )
        .with_columns((pl.col("billed") - pl.col("catalogue")).alias("gap"))
        .sort(pl.col("gap").abs(), descending=True)
    )
    out = []
    for row in table.iter_rows(named=True):
        item: dict[str, Any] = {
            "cause": row["_cause"],
            "calls": row["calls"],
            "billed_usd": round(row["billed"], 6),
            "catalogue_usd": round(row["catalogue"], 6),
            "gap_usd": round(row["gap"], 6),
            "explanation": CAUSES[row["_cause"]],
        }
        if row["_cause"] == "price_difference" and row["catalogue"] > 0:
            item["billed_to_catalogue_ratio"] = round(row["billed"] / row["catalogue"], 4)
            item["days"] = [row["first"].isoformat(), row["last"].isoformat()]
        out.append(item)
    return out


def detect(ctx: Context) -> list[Candidate]:
    both = pl.col("cost_usd").is_not_null() & pl.col("catalogue_cost").is_not_null()
    table = ctx.groups(
        ["provider_n", "model_n"],
        pl.col("cost_usd").sum().alias("billed"),
        pl.col("catalogue_cost").sum().alias("catalogue"),
        where=both,
    ).filter(
        ((pl.col("billed") - pl.col("catalogue")).abs() >= MIN_DIFF_SHARE * pl.col("catalogue"))
        & ((pl.col("billed") - pl.col("catalogue")).abs() >= MIN_DIFF_OF_TOTAL * ctx.total_cost)
        & (pl.col("catalogue") > 0)
    )
    out = []
    for row in table.iter_rows(named=True):
        provider, model = row["provider_n"], row["model_n"]
        diff = row["billed"] - row["catalogue"]
        share = diff / row["catalogue"] if row["catalogue"] else 0.0
        mask = (pl.col("provider_n") == provider) & (pl.col("model_n") == model) & both
        causes = reconcile(ctx, ctx.frame.filter(mask))
        explained = "; ".join(
            f"{c['gap_usd']:+.2f} USD over {c['calls']} calls: {c['explanation']}" for c in causes
        )
        out.append(
            Candidate(
                kind=COST_MISMATCH,
                title=f"Billed cost of {model} is {share:+.0%} off the list price",
                detail=(
                    f"{row['n']} calls to {model} on {provider} were billed ${row['billed']:.2f}; "
                    f"the catalogue prices them at ${row['catalogue']:.2f}. By cause: {explained}."
                ),
                scope={"provider": provider, "model": model},
                mask=mask,
                keep=pl.lit(1.0),
                confidence="high" if abs(share) >= 2 * MIN_DIFF_SHARE else "medium",
                evidence={
                    "calls": row["n"],
                    "billed_usd": round(row["billed"], 6),
                    "catalogue_usd": round(row["catalogue"], 6),
                    "difference_usd": round(diff, 6),
                    "difference_pct": round(100 * share, 2),
                    "reconciliation": causes,
                },
            )
        )
    return out
