"""What the reports domain lends the agent pipeline (``runtime.services``): the record loader
and the report store. Each call is its own unit of work."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from netra.agents.contract import RecordLoader, ReportStore
from netra.billing.webhooks import deliver_via
from netra.core.db import derived_id
from netra.core.runtime import Runtime
from netra.records.record import UsageRecord
from netra.reports import service
from netra.usage.repository import UsageRepository


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

    async def store(org_id: str, report: dict[str, Any], run_id: str) -> str:
        stored = await runtime.db.run(
            lambda session: service.store_report(
                session, org_id, report, deliver, report_id=derived_id("run", run_id, "report")
            )
        )
        return str(stored["id"])

    return store
