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

Aggregated rows: percentiles of single calls cannot be read from rollups, only the mean output
per call. A group with rollup rows is judged on its single calls' percentiles when it has at
least ``MIN_CALLS`` of them, else on the mean output per call of all its calls, which must be at
most ``MAX_MEAN_OUTPUT_ROLLUP`` (a mean that low leaves little room for long answers); the
finding then has low confidence and says the distribution was not seen.
"""

from __future__ import annotations

import polars as pl

from netra.analysis.detectors.base import Context, ratio, reprice
from netra.analysis.findings import Candidate, Confidence

MIN_CALLS = 50
MAX_P90_OUTPUT = 64
MAX_P50_OUTPUT = 32
HIGH_CONFIDENCE_P90 = 16
MIN_SAVING_SHARE = 0.20
MAX_MEAN_OUTPUT_ROLLUP = 16


def detect(ctx: Context) -> list[Candidate]:
    keys = ["_feature", "provider_n", "model_n"]
    single = ~pl.col("_agg")
    table = ctx.groups(
        keys,
        pl.col("output_tokens").filter(single).quantile(0.9, "nearest").alias("p90_out"),
        pl.col("output_tokens").filter(single).median().alias("p50_out"),
        pl.col("input_tokens").filter(single).median().alias("p50_in"),
        (pl.col("output_tokens").sum() / pl.col("_calls").sum()).alias("mean_out"),
        (pl.col("input_tokens").sum() / pl.col("_calls").sum()).alias("mean_in"),
        where=pl.col("_ok") & pl.col("catalogue_cost").is_not_null(),
    ).with_columns((pl.col("n") - pl.col("n_agg") >= MIN_CALLS).alias("seen"))
    table = table.filter(
        (pl.col("n") >= MIN_CALLS)
        & pl.when(pl.col("seen"))
        .then((pl.col("p90_out") <= MAX_P90_OUTPUT) & (pl.col("p50_out") <= MAX_P50_OUTPUT))
        .otherwise(pl.col("mean_out") <= MAX_MEAN_OUTPUT_ROLLUP)
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
        confidence: Confidence
        if row["seen"]:
            shape = f"p90 output {row['p90_out']:.0f} tokens over {row['n']} calls"
            confidence = "high" if row["p90_out"] <= HIGH_CONFIDENCE_P90 else "medium"
        else:
            shape = (
                f"{row['mean_out']:.1f} output tokens per call on average over {row['n']} "
                f"calls, {row['n_agg']} of them in aggregated rows, whose distribution is not "
                "seen"
            )
            confidence = "low"
        out.append(
            Candidate(
                kind="model_rightsizing",
                title=f"Move {feature} from {model} to {target}",
                detail=(
                    f"{feature} sends short, classification-like requests to {model} "
                    f"({shape}). "
                    f"{target}, one tier below at {provider}, would cost "
                    f"{1 - cheapest / current:.0%} less for the same tokens; check its answers "
                    "on a sample first."
                ),
                scope={"feature": feature, "provider": provider, "model": model},
                mask=mask & pl.col("catalogue_cost").is_not_null(),
                keep=pl.lit(ratio(current, cheapest)),
                confidence=confidence,
                evidence={
                    "calls": row["n"],
                    "aggregated_calls": row["n_agg"],
                    "percentiles_from_single_calls": row["seen"],
                    "mean_output_tokens_per_call": round(row["mean_out"], 2),
                    "mean_input_tokens_per_call": round(row["mean_in"], 2),
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
