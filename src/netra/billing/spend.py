"""Spend of an organisation's stored usage in a window, for budgets.

Per record: ``cost_usd`` as billed when present, else the catalogue price at the record's
timestamp (``netra.pricing.catalogue``), the same rule as the analysis report. Rows neither billed
nor in the catalogue are counted as unpriced, never as $0 spent silently.

Both are aggregated in SQL. Billed rows are one SUM. Rows without a billed cost are summed per
(provider, model, batch, UTC day): the catalogue prices by day, and a flat per-token price is
linear, so pricing the token sums equals pricing each row. Only models whose price depends on
the prompt size (long-context tiers) or on the time of day are read row by row and priced
with the analysis engine's vectorised pricing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy import func, or_
from sqlalchemy.ext.asyncio import AsyncSession

from netra.billing.budgets import Spend
from netra.billing.schemas import parse_scope
from netra.core.repository import OrgRepository
from netra.pricing.catalogue import Catalogue, normalize_provider, price_frame
from netra.records.record import MAX_COST_USD
from netra.usage.models import UsageRow

_ROW_COLUMNS = (
    "timestamp",
    "provider",
    "model",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "batch",
)
_ROW_SCHEMA: dict[str, Any] = {
    "timestamp": pl.Datetime("us", "UTC"),
    "provider": pl.String,
    "model": pl.String,
    "input_tokens": pl.Int64,
    "output_tokens": pl.Int64,
    "cached_input_tokens": pl.Int64,
    "cache_write_tokens": pl.Int64,
    "batch": pl.Boolean,
}


class _Usage(OrgRepository[UsageRow]):
    model = UsageRow


def _utc_day(dialect: str) -> Any:
    """SQL for the UTC calendar day of ``timestamp``."""
    if dialect == "postgresql":
        return func.date_trunc("day", func.timezone("UTC", UsageRow.timestamp))
    # SQLite keeps UTC timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff' text.
    return func.substr(UsageRow.timestamp, 1, 10)


def _as_day(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=UTC)
    return datetime.fromisoformat(str(value)[:10]).replace(tzinfo=UTC)


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
        # A billed cost past the record bound (stored before it existed) counts as unbilled,
        # so the sum stays finite.
        billed = repo.select(func.count(UsageRow.id), total).where(
            *conditions, UsageRow.cost_usd.is_not(None), UsageRow.cost_usd <= MAX_COST_USD
        )
        billed_count, billed_sum = (await session.execute(billed)).one()
        unbilled = [
            *conditions,
            or_(UsageRow.cost_usd.is_(None), UsageRow.cost_usd > MAX_COST_USD),
        ]
        priced_sum, records, unpriced = await self._catalogue_spend(session, repo, unbilled)
        return Spend(
            usd=float(billed_sum) + priced_sum,
            records=int(billed_count) + records,
            unpriced_records=unpriced,
        )

    async def _catalogue_spend(
        self, session: AsyncSession, repo: _Usage, conditions: list[Any]
    ) -> tuple[float, int, int]:
        """(catalogue cost, records, unpriced records) of rows without a billed cost."""
        day = _utc_day(session.get_bind().dialect.name).label("day")
        groups = await session.execute(
            repo.select(
                UsageRow.provider,
                UsageRow.model,
                UsageRow.batch,
                day,
                func.count(UsageRow.id),
                func.sum(UsageRow.input_tokens),
                func.sum(UsageRow.output_tokens),
                func.sum(UsageRow.cached_input_tokens),
                func.sum(UsageRow.cache_write_tokens),
            )
            .where(*conditions)
            .group_by(UsageRow.provider, UsageRow.model, UsageRow.batch, day)
        )
        catalogue = self.catalogue
        usd, records, unpriced = 0.0, 0, 0
        per_row: set[tuple[str, str]] = set()
        for provider, model, batch, at, count, inp, out, cached, writes in groups.all():
            records += int(count)
            p = normalize_provider(provider)
            info = catalogue.model_info(p, model.strip())
            if info is None:
                unpriced += int(count)
                continue
            rates = catalogue.rates(p, info.id, _as_day(at), batch=bool(batch))
            if rates is None:
                unpriced += int(count)
            elif catalogue.time_of_day_priced(p, info.id) or any(
                r.tiers for r in (rates.input, rates.cache_read, rates.cache_write, rates.output)
            ):
                per_row.add((provider, model))
            else:
                usd += rates.cost(int(inp), int(out), int(cached), int(writes))
        if per_row:
            row_usd, row_unpriced = await self._price_rows(session, repo, conditions, per_row)
            usd += row_usd
            unpriced += row_unpriced
        return usd, records, unpriced

    async def _price_rows(
        self,
        session: AsyncSession,
        repo: _Usage,
        conditions: list[Any],
        models: set[tuple[str, str]],
    ) -> tuple[float, int]:
        usd, unpriced = 0.0, 0
        for provider, model in sorted(models):
            rows = (
                await session.execute(
                    repo.select(*(getattr(UsageRow, c) for c in _ROW_COLUMNS)).where(
                        *conditions, UsageRow.provider == provider, UsageRow.model == model
                    )
                )
            ).all()
            if not rows:
                continue
            frame = pl.DataFrame([tuple(r) for r in rows], schema=_ROW_SCHEMA, orient="row")
            frame = frame.with_columns(pl.lit(None, dtype=pl.Float64).alias("cost_usd"))
            cost = price_frame(frame, self.catalogue)["cost"]
            usd += float(cost.sum() or 0.0)
            unpriced += int(cost.null_count())
        return usd, unpriced
