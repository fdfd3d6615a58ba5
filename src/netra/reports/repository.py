"""Tenant-scoped storage of analysis reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from netra.core.db import new_id
from netra.core.repository import OrgRepository
from netra.reports.models import StoredAnalysis


class AnalysisRepository(OrgRepository[StoredAnalysis]):
    model = StoredAnalysis

    async def save(self, report: dict[str, Any], report_id: str | None = None) -> StoredAnalysis:
        period = report.get("period") or {}
        stored = StoredAnalysis(
            id=report_id or new_id(),
            report=report,
            period_start=_as_datetime(period.get("start")),
            period_end=_as_datetime(period.get("end")),
        )
        self.add(stored)
        await self.session.flush()
        return stored


def _as_datetime(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None
