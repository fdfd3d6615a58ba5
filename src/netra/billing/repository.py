"""Tenant-scoped repositories of the billing tables."""

from __future__ import annotations

from sqlalchemy import func

from netra.billing.models import Budget, BudgetAlert, Webhook, WebhookDelivery, WebhookEvent
from netra.core.repository import OrgRepository


class BudgetRepository(OrgRepository[Budget]):
    model = Budget

    async def count(self) -> int:
        return int(await self.session.scalar(self.select(func.count(Budget.id))) or 0)

    async def all(self) -> list[Budget]:
        result = await self.session.execute(self.select().order_by(Budget.created_at, Budget.id))
        return list(result.scalars())


class BudgetAlertRepository(OrgRepository[BudgetAlert]):
    model = BudgetAlert


class WebhookRepository(OrgRepository[Webhook]):
    model = Webhook

    async def count(self) -> int:
        return int(await self.session.scalar(self.select(func.count(Webhook.id))) or 0)

    async def all(self) -> list[Webhook]:
        result = await self.session.execute(self.select().order_by(Webhook.created_at, Webhook.id))
        return list(result.scalars())


class WebhookEventRepository(OrgRepository[WebhookEvent]):
    model = WebhookEvent


class WebhookDeliveryRepository(OrgRepository[WebhookDelivery]):
    model = WebhookDelivery
