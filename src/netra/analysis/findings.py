"""Findings and how their savings combine without counting a dollar twice.

A detector proposes a ``Candidate``: the rows it affects (``mask``, a Polars expression over the
priced frame) and, for each of those rows, the fraction of its cost that remains after the change
(``keep``, between 0 and 1: 0 for a call that disappears, 0.6 for a call repriced 40 % cheaper).
The engine, not the detector, computes each finding's money from the rows, so the numbers are
consistent by construction: current = sum(cost), projected = sum(cost * keep),
savings = current - projected (net of what the change costs, which the detector folds into
``keep``: cache writes, the cheaper model's tokens, the batch price).

``affected_records`` counts the calls the finding touches (a rollup row stands for
``requests`` calls).

Overlap: when several findings touch one row, their effects compose multiplicatively on that
row: remaining = cost * keep_1 * keep_2 * ..., so ``projected_savings_usd`` =
sum(cost * (1 - prod(keep))). This is at most the row's cost, at most the sum of the individual
savings, and never counts one dollar twice (the second change saves a share of what the first
left, e.g. batching a call that right-sizing already made cheaper saves half of the cheaper
price, not half of the old one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

from netra.analysis.money import usd

Confidence = Literal["high", "medium", "low"]
KINDS = (
    "model_rightsizing",
    "response_caching",
    "prompt_caching",
    "retry_waste",
    "provider_arbitrage",
    "batch_eligible",
    "spend_anomaly",
)
# Informational: billed cost far from the catalogue price. Saves nothing by itself.
COST_MISMATCH = "cost_mismatch"


@dataclass
class Candidate:
    kind: str
    title: str
    detail: str
    scope: dict[str, Any]
    mask: pl.Expr
    keep: pl.Expr
    confidence: Confidence
    evidence: dict[str, Any] = field(default_factory=dict)


def _money(frame: pl.DataFrame, candidates: list[Candidate]) -> pl.DataFrame:
    """One row per candidate: affected records, current and projected cost."""
    exprs: list[pl.Expr] = []
    calls = pl.col("_calls") if "_calls" in frame.columns else pl.lit(1, pl.Int64)
    for i, cand in enumerate(candidates):
        keep = cand.keep.clip(0.0, 1.0).fill_null(1.0)
        exprs += [
            calls.filter(cand.mask).sum().alias(f"n{i}"),
            pl.col("cost").filter(cand.mask).sum().alias(f"c{i}"),
            (pl.col("cost") * keep).filter(cand.mask).sum().alias(f"p{i}"),
        ]
    return frame.select(exprs) if exprs else pl.DataFrame()


def settle(
    frame: pl.DataFrame, candidates: list[Candidate], *, min_savings: float = 0.0
) -> tuple[list[dict[str, Any]], float]:
    """Turn candidates into report findings and the combined, de-duplicated savings.

    ``frame`` must have a non-null ``cost`` (unpriced rows filtered out). A candidate saving
    less than ``min_savings`` is dropped (noise), except the informational cost mismatch."""
    if not candidates:
        return [], 0.0
    sums = _money(frame, candidates).row(0)
    findings: list[dict[str, Any]] = []
    kept: list[Candidate] = []
    for i, cand in enumerate(candidates):
        affected, current, projected = sums[3 * i], sums[3 * i + 1] or 0.0, sums[3 * i + 2] or 0.0
        projected = min(projected, current)
        if cand.kind != COST_MISMATCH and (current - projected) < max(min_savings, 1e-9):
            continue
        findings.append(
            {
                "kind": cand.kind,
                "title": cand.title,
                "detail": cand.detail,
                "scope": cand.scope,
                "affected_records": int(affected or 0),
                "current_cost_usd": usd(current),
                "projected_cost_usd": usd(projected),
                "savings_usd": usd(max(0.0, usd(current) - usd(projected))),
                "confidence": cand.confidence,
                "evidence": cand.evidence,
            }
        )
        kept.append(cand)
    remaining = pl.lit(1.0)
    for cand in kept:
        keep = cand.keep.clip(0.0, 1.0).fill_null(1.0)
        remaining = remaining * pl.when(cand.mask).then(keep).otherwise(1.0)
    combined = frame.select((pl.col("cost") * (1.0 - remaining)).sum()).item()
    order = sorted(range(len(findings)), key=lambda i: -findings[i]["savings_usd"])
    return [findings[i] for i in order], float(combined or 0.0)
