"""provider_arbitrage: the same model cheaper elsewhere.

Rule: per (provider, model) with at least ``MIN_CALLS`` priced calls, price its calls' own
tokens, at their own dates, on every other provider or endpoint selling the same model
(``model_map.EQUIVALENTS``); fire when the cheapest saves at least ``MIN_SAVING_SHARE`` of the
catalogue cost. keep = cheapest / current for every call of that provider and model.
Confidence: high (same weights, only the bill changes).
"""

from __future__ import annotations

import polars as pl

from netra.analysis.detectors.base import Context, ratio, reprice
from netra.analysis.findings import Candidate

MIN_CALLS = 50
MIN_SAVING_SHARE = 0.05


def detect(ctx: Context) -> list[Candidate]:
    table = ctx.groups(
        ["provider_n", "model_n"],
        pl.col("_feature").n_unique().alias("features"),
        where=pl.col("catalogue_cost").is_not_null(),
    ).filter(pl.col("n") >= MIN_CALLS)
    out = []
    for row in table.iter_rows(named=True):
        provider, model = row["provider_n"], row["model_n"]
        options = ctx.models.equivalents(provider, model)
        if not options:
            continue
        mask = (pl.col("provider_n") == provider) & (pl.col("model_n") == model)
        priced = [(reprice(ctx, mask, provider=p, model=m), (p, m)) for p, m in options]
        (current, cheapest), (alt_provider, alt_model) = min(priced, key=lambda i: i[0][1])
        if current <= 0 or cheapest > (1.0 - MIN_SAVING_SHARE) * current:
            continue
        out.append(
            Candidate(
                kind="provider_arbitrage",
                title=f"{model} costs {1 - cheapest / current:.0%} less at {alt_provider}",
                detail=(
                    f"The {row['n']} calls to {model} on {provider} would cost "
                    f"{1 - cheapest / current:.0%} less as {alt_model} on {alt_provider}: the "
                    "same model, a different bill."
                ),
                scope={"provider": provider, "model": model},
                mask=mask & pl.col("catalogue_cost").is_not_null(),
                keep=pl.lit(ratio(current, cheapest)),
                confidence="high",
                evidence={
                    "calls": row["n"],
                    "features": row["features"],
                    "proposed_provider": alt_provider,
                    "proposed_model": alt_model,
                    "alternatives_priced": {
                        f"{p}/{m}": round(cost, 6) for (_, cost), (p, m) in priced
                    },
                },
            )
        )
    return out
