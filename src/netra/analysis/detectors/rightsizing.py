"""model_rightsizing: a cheaper model fits the feature's observed traffic.

Rule: per (feature, provider, model) with at least ``MIN_CALLS`` successful calls, on a model
whose capability tier is known (``model_map.TIERS``) and has a tier below it at the same
provider, fire when the traffic looks classification-like: p90 of output tokens at most
``MAX_P90_OUTPUT`` and median at most ``MAX_P50_OUTPUT`` (short labels, yes/no, extractions:
answers a smaller model gives as well). The proposal is the cheapest non-deprecated model of the
tier just below, priced on the feature's own tokens at their own dates; it must save at least
``MIN_SAVING_SHARE`` of the catalogue cost. All the feature's calls on that model move (failed
ones too), keep = cheaper / current catalogue cost. Confidence: high when p90 output is at most
``HIGH_CONFIDENCE_P90``, else medium (a quality check on a sample is advised either way).
"""

from __future__ import annotations

import polars as pl

from netra.analysis.detectors.base import Context, ratio, reprice
from netra.analysis.findings import Candidate

MIN_CALLS = 50
MAX_P90_OUTPUT = 64
MAX_P50_OUTPUT = 32
HIGH_CONFIDENCE_P90 = 16
MIN_SAVING_SHARE = 0.20


def detect(ctx: Context) -> list[Candidate]:
    keys = ["_feature", "provider_n", "model_n"]
    table = ctx.groups(
        keys,
        pl.col("output_tokens").quantile(0.9, "nearest").alias("p90_out"),
        pl.col("output_tokens").median().alias("p50_out"),
        pl.col("input_tokens").median().alias("p50_in"),
        where=pl.col("_ok") & pl.col("catalogue_cost").is_not_null(),
    ).filter(
        (pl.col("n") >= MIN_CALLS)
        & (pl.col("p90_out") <= MAX_P90_OUTPUT)
        & (pl.col("p50_out") <= MAX_P50_OUTPUT)
    )
    out = []
    for row in table.iter_rows(named=True):
        feature, provider, model = row["_feature"], row["provider_n"], row["model_n"]
        options = ctx.models.lighter(provider, model)
        if not options:
            continue
        mask = (
            (pl.col("_feature") == feature)
            & (pl.col("provider_n") == provider)
            & (pl.col("model_n") == model)
        )
        priced = [(reprice(ctx, mask, provider=provider, model=alt), alt) for alt in options]
        (current, cheapest), target = min(priced, key=lambda item: item[0][1])
        if current <= 0 or cheapest > (1.0 - MIN_SAVING_SHARE) * current:
            continue
        out.append(
            Candidate(
                kind="model_rightsizing",
                title=f"Move {feature} from {model} to {target}",
                detail=(
                    f"{feature} sends short, classification-like requests to {model} "
                    f"(p90 output {row['p90_out']:.0f} tokens over {row['n']} calls). "
                    f"{target}, one tier below at {provider}, would cost "
                    f"{1 - cheapest / current:.0%} less for the same tokens; check its answers "
                    "on a sample first."
                ),
                scope={"feature": feature, "provider": provider, "model": model},
                mask=mask & pl.col("catalogue_cost").is_not_null(),
                keep=pl.lit(ratio(current, cheapest)),
                confidence="high" if row["p90_out"] <= HIGH_CONFIDENCE_P90 else "medium",
                evidence={
                    "calls": row["n"],
                    "p50_output_tokens": row["p50_out"],
                    "p90_output_tokens": row["p90_out"],
                    "p50_input_tokens": row["p50_in"],
                    "current_tier": ctx.models.tier(provider, model),
                    "proposed_model": target,
                    "alternatives_priced": {alt: round(cost, 6) for (_, cost), alt in priced},
                },
            )
        )
    return out
