"""What every detector receives: the priced rows and the catalogue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from netra.analysis.model_map import ModelMap
from netra.analysis.rollups import rollup_seconds
from netra.pricing.catalogue import Catalogue, catalogue_cost

NO_FEATURE = "(none)"


@dataclass
class Context:
    """``frame``: priced rows only (non-null ``cost``), with helper columns ``_row`` (index),
    ``_feature`` (feature or "(none)"), ``_day`` (UTC date), ``_ok`` (status == ok), ``_calls``
    (the calls a row stands for: ``requests``) and ``_agg`` (the row adds up several calls).
    ``rollup_s``: the period aggregated rows cover (0 when every row is a single call)."""

    frame: pl.DataFrame
    catalogue: Catalogue
    total_cost: float
    start: datetime
    end: datetime
    models: ModelMap
    rollup_s: int = 0

    @classmethod
    def build(
        cls, priced: pl.DataFrame, catalogue: Catalogue, start: datetime, end: datetime
    ) -> Context:
        # Categoricals: detectors group and filter on these many times; integer codes make that
        # several times faster than hashing strings on every pass.
        frame = (
            priced.filter(pl.col("cost").is_not_null())
            .with_row_index("_row")
            .with_columns(
                pl.col("feature").fill_null(NO_FEATURE).cast(pl.Categorical).alias("_feature"),
                pl.col("provider_n").cast(pl.Categorical),
                pl.col("model_n").cast(pl.Categorical),
                pl.col("timestamp").dt.date().alias("_day"),
                (pl.col("status") == "ok").alias("_ok"),
                pl.col("requests").alias("_calls"),
                (pl.col("requests") > 1).alias("_agg"),
            )
        )
        total = float(frame["cost"].sum() or 0.0)
        models = ModelMap(catalogue)
        return cls(frame, catalogue, total, start, end, models, rollup_seconds(frame))

    def groups(self, keys: list[str], *aggs: pl.Expr, where: pl.Expr | None = None) -> pl.DataFrame:
        """Aggregate (a subset of) the rows per key; always counts calls as ``n`` (the sum of
        ``requests``), the calls in aggregated rows as ``n_agg``, and sums ``cost``."""
        rows = self.frame if where is None else self.frame.filter(where)
        return rows.group_by(keys).agg(
            pl.col("_calls").sum().alias("n"),
            pl.col("_calls").filter(pl.col("_agg")).sum().alias("n_agg"),
            pl.col("cost").sum(),
            *aggs,
        )


def scope_mask(scope: dict[str, str]) -> pl.Expr:
    """Rows matching a finding scope given in report terms (feature/provider/model)."""
    columns = {"feature": "_feature", "provider": "provider_n", "model": "model_n"}
    expr = pl.lit(True)
    for key, value in scope.items():
        if key in columns:
            expr = expr & (pl.col(columns[key]) == value)
    return expr


def reprice(
    ctx: Context,
    mask: pl.Expr,
    *,
    provider: str | None = None,
    model: str | None = None,
    batch: bool | None = None,
    tokens: pl.DataFrame | None = None,
) -> tuple[float, float]:
    """(catalogue cost now, catalogue cost after a what-if) of the rows under ``mask`` that the
    catalogue prices. ``tokens`` may replace the rows (same columns, e.g. more cached tokens)."""
    rows = ctx.frame.filter(mask & pl.col("catalogue_cost").is_not_null())
    if rows.height == 0:
        return 0.0, 0.0
    current = float(rows["catalogue_cost"].sum())
    what_if = catalogue_cost(
        tokens if tokens is not None else rows,
        ctx.catalogue,
        provider=provider,
        model=model,
        batch=batch,
    )
    if what_if.null_count():
        return current, current  # the alternative is not priced on some date: no claim
    return current, float(what_if.sum())


def ratio(current: float, projected: float) -> float:
    """Share of cost kept after a change (1.0 when nothing is known)."""
    return projected / current if current > 0 else 1.0
