"""cost_mismatch (informational, saves nothing by itself): billed cost far from the catalogue.

Rule: per (provider, model), over the calls that carry ``cost_usd`` and that the catalogue
prices, fire when the billed total differs from the catalogue total by at least
``MIN_DIFF_SHARE`` of the catalogue total and by at least ``MIN_DIFF_OF_TOTAL`` of the whole
period's spend (small change on a small model is noise to the reader). It may mean a
negotiated discount, a price change the catalogue missed, or wrong cost attribution.
"""

from __future__ import annotations

import polars as pl

from netra.analysis.detectors.base import Context
from netra.analysis.findings import COST_MISMATCH, Candidate

MIN_DIFF_SHARE = 0.10
MIN_DIFF_OF_TOTAL = 0.002


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
        out.append(
            Candidate(
                kind=COST_MISMATCH,
                title=f"Billed cost of {model} is {share:+.0%} off the list price",
                detail=(
                    f"{row['n']} calls to {model} on {provider} were billed ${row['billed']:.2f}; "
                    f"the catalogue prices them at ${row['catalogue']:.2f}. Check for a price "
                    "change, a contract rate or a cost attribution error."
                ),
                scope={"provider": provider, "model": model},
                mask=(pl.col("provider_n") == provider) & (pl.col("model_n") == model) & both,
                keep=pl.lit(1.0),
                confidence="high" if abs(share) >= 2 * MIN_DIFF_SHARE else "medium",
                evidence={
                    "calls": row["n"],
                    "billed_usd": round(row["billed"], 6),
                    "catalogue_usd": round(row["catalogue"], 6),
                    "difference_usd": round(diff, 6),
                    "difference_pct": round(100 * share, 2),
                },
            )
        )
    return out
