"""What the usage domain hands other components through ``Runtime.extras``: the record loader
and the report store the agent pipeline uses. Each call is its own unit of work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from netra.billing.webhooks import deliver_via
from netra.core.runtime import Runtime
from netra.records.record import UsageRecord
from netra.reports import service
from netra.usage.repository import UsageRepository

RecordLoader = Callable[[str, datetime | None, datetime | None, int], Awaitable[list[UsageRecord]]]
ReportStore = Callable[[str, dict[str, Any]], Awaitable[str]]


def record_loader(runtime: Runtime) -> RecordLoader:
    async def load(
        org_id: str, start: datetime | None, end: datetime | None, limit: int
    ) -> list[UsageRecord]:
        """The org's records in ``[start, end)``: the most recent ``limit``, oldest first."""

        async def read(session: AsyncSession) -> list[UsageRecord]:
            return await UsageRepository(session, org_id).load(start, end, limit)

        return await runtime.db.run(read)

    return load


def report_store(runtime: Runtime) -> ReportStore:
    deliver = deliver_via(runtime)

    async def store(org_id: str, report: dict[str, Any]) -> str:
        stored = await runtime.db.run(
            lambda session: service.store_report(session, org_id, report, deliver)
        )
        return str(stored["id"])

    return store
