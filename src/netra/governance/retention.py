"""Retention: usage records, run events, webhook events and deliveries older than their
setting's number of days are deleted by a background job (0 keeps them forever).

Each organisation that lost rows gets a ``retention.purge`` audit row with the counts, in the
same transaction as the deletion; usage data versions are bumped so no cached summary or
analysis still shows purged records. Safe on every replica at once (deletes are idempotent).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from netra.billing.models import WebhookDelivery, WebhookEvent
from netra.chat.models import Run, RunEvent
from netra.core.audit import record_audit
from netra.core.db import Database, utcnow
from netra.core.settings import Settings
from netra.usage.models import UsageRow
from netra.usage.repository import UsageRepository

log = structlog.get_logger("netra.retention")


async def _per_org(session: AsyncSession, stmt: Any) -> dict[str, int]:
    return {org: int(n) for org, n in (await session.execute(stmt)).all()}


async def purge_once(
    db: Database, settings: Settings, now: datetime | None = None
) -> dict[str, int]:
    """Delete what is past retention; rows deleted per kind."""
    moment = now or utcnow()

    def cutoff(days: int) -> datetime | None:
        return moment - timedelta(days=days) if days > 0 else None

    async def work(session: AsyncSession) -> dict[str, int]:
        by_org: dict[str, dict[str, int]] = defaultdict(dict)
        totals: dict[str, int] = {}

        def note(kind: str, counts: dict[str, int]) -> None:
            totals[kind] = sum(counts.values())
            for org, n in counts.items():
                by_org[org][kind] = n

        usage_before = cutoff(settings.retention_usage_days)
        if usage_before is not None:
            old: ColumnElement[bool] = UsageRow.timestamp < usage_before
            counts = await _per_org(
                session, select(UsageRow.org_id, func.count()).where(old).group_by(UsageRow.org_id)
            )
            if counts:
                await session.execute(delete(UsageRow).where(old))
                for org in counts:
                    await UsageRepository(session, org).bump_version()
            note("usage_records", counts)

        events_before = cutoff(settings.retention_run_events_days)
        if events_before is not None:
            old = RunEvent.ts < events_before
            counts = await _per_org(
                session,
                select(Run.org_id, func.count())
                .select_from(RunEvent)
                .join(Run, Run.id == RunEvent.run_id)
                .where(old)
                .group_by(Run.org_id),
            )
            if counts:
                await session.execute(delete(RunEvent).where(old))
            note("run_events", counts)

        hooks_before = cutoff(settings.retention_webhooks_days)
        if hooks_before is not None:
            old_event = WebhookEvent.created_at < hooks_before
            # A delivery goes with its event, whatever its own age.
            old_delivery = (
                WebhookDelivery.created_at < hooks_before
            ) | WebhookDelivery.event_id.in_(select(WebhookEvent.id).where(old_event))
            deliveries = await _per_org(
                session,
                select(WebhookDelivery.org_id, func.count())
                .where(
                    old_delivery
                    | WebhookDelivery.event_id.in_(select(WebhookEvent.id).where(old_event))
                )
                .group_by(WebhookDelivery.org_id),
            )
            events = await _per_org(
                session,
                select(WebhookEvent.org_id, func.count())
                .where(old_event)
                .group_by(WebhookEvent.org_id),
            )
            if deliveries:
                await session.execute(delete(WebhookDelivery).where(old_delivery))
            if events:
                await session.execute(delete(WebhookEvent).where(old_event))
            note("webhook_deliveries", deliveries)
            note("webhook_events", events)

        for org, kinds in by_org.items():
            record_audit(session, "retention.purge", org_id=org, deleted=kinds)
        return totals

    return await db.run(work)
