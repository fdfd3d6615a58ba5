"""Spend of an organisation's stored usage in a window, for budgets.

Per record: ``cost_usd`` as billed when present, else the catalogue price at the record's
timestamp (``netra.usage.pricing``), the same rule as the analysis report. Billed rows are
summed in SQL; only rows without a billed cost are read and priced. Rows neither billed nor
in the catalogue are counted as unpriced, never as $0 spent silently.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from netra.billing.budgets import Spend
from netra.billing.schemas import parse_scope
from netra.core.repository import OrgRepository
from netra.usage.models import UsageRow
from netra.usage.pricing import Catalogue, price_frame

_PRICE_COLUMNS = (
    "timestamp",
    "provider",
    "model",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "batch",
)


class _Usage(OrgRepository[UsageRow]):
    model = UsageRow


class TableSpend:
    """The spend function over the ``usage_records`` table (one catalogue per process)."""

    def __init__(self, catalogue: Catalogue | None = None) -> None:
        self._catalogue = catalogue

    @property
    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            self._catalogue = Catalogue()
        return self._catalogue

    async def __call__(
        self, session: AsyncSession, org_id: str, scope: str, start: datetime, end: datetime
    ) -> Spend:
        repo = _Usage(session, org_id)
        kind, name = parse_scope(scope)
        conditions: list[Any] = [UsageRow.timestamp >= start, UsageRow.timestamp < end]
        if kind == "feature":
            conditions.append(UsageRow.feature == name)
        elif kind == "model":
            conditions.append(UsageRow.model == name)
        total = func.coalesce(func.sum(UsageRow.cost_usd), 0.0)
        billed = repo.select(func.count(UsageRow.id), total).where(
            *conditions, UsageRow.cost_usd.is_not(None)
        )
        billed_count, billed_sum = (await session.execute(billed)).one()
        rows = (
            await session.execute(
                repo.select(*(getattr(UsageRow, c) for c in _PRICE_COLUMNS)).where(
                    *conditions, UsageRow.cost_usd.is_(None)
                )
            )
        ).all()
        priced_sum, unpriced = self._price(rows)
        return Spend(
            usd=float(billed_sum) + priced_sum,
            records=int(billed_count) + len(rows),
            unpriced_records=unpriced,
        )

    def _price(self, rows: list[Any]) -> tuple[float, int]:
        if not rows:
            return 0.0, 0
        frame = pl.DataFrame(
            [tuple(r) for r in rows],
            schema={
                "timestamp": pl.Datetime("us", "UTC"),
                "provider": pl.String,
                "model": pl.String,
                "input_tokens": pl.Int64,
                "output_tokens": pl.Int64,
                "cached_input_tokens": pl.Int64,
                "cache_write_tokens": pl.Int64,
                "batch": pl.Boolean,
            },
            orient="row",
        ).with_columns(pl.lit(None, dtype=pl.Float64).alias("cost_usd"))
        cost = price_frame(frame, self.catalogue)["cost"]
        return float(cost.sum() or 0.0), int(cost.null_count())
