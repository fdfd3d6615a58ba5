"""What every detector receives: the priced rows and the catalogue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from netra.usage.pricing import Catalogue

NO_FEATURE = "(none)"


@dataclass
class Context:
    """``frame``: priced rows only (non-null ``cost``), with helper columns ``_feature`` (feature
    or "(none)"), ``_day`` (UTC date) and ``_ok`` (status == ok)."""

    frame: pl.DataFrame
    catalogue: Catalogue
    total_cost: float
    start: datetime
    end: datetime

    @classmethod
    def build(
        cls, priced: pl.DataFrame, catalogue: Catalogue, start: datetime, end: datetime
    ) -> Context:
        frame = priced.filter(pl.col("cost").is_not_null()).with_columns(
            pl.col("feature").fill_null(NO_FEATURE).alias("_feature"),
            pl.col("timestamp").dt.date().alias("_day"),
            (pl.col("status") == "ok").alias("_ok"),
        )
        return cls(frame, catalogue, float(frame["cost"].sum() or 0.0), start, end)


def scope_mask(scope: dict[str, str]) -> pl.Expr:
    """Rows matching a finding scope given in report terms (feature/provider/model)."""
    columns = {"feature": "_feature", "provider": "provider_n", "model": "model_n"}
    expr = pl.lit(True)
    for key, value in scope.items():
        if key in columns:
            expr = expr & (pl.col(columns[key]) == value)
    return expr
