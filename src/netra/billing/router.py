"""HTTP endpoints: ``/api/v1/budgets`` and ``/api/v1/webhooks`` (API.md, Backend)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from netra.auth.deps import require
from netra.billing import budgets as budget_service
from netra.billing import webhooks as webhook_service
from netra.billing.models import Webhook
from netra.billing.schemas import (
    BudgetIn,
    BudgetList,
    BudgetOut,
    DeliveryList,
    DeliveryOut,
    WebhookCreated,
    WebhookIn,
    WebhookList,
    WebhookOut,
)
from netra.core.audit import record_audit, request_ip
from netra.core.context import UserContext
from netra.core.deps import RuntimeDep, SessionDep
from netra.core.inputs import PathId
from netra.core.openapi import responses

budgets_router = APIRouter(prefix="/api/v1/budgets", tags=["budgets"])
webhooks_router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


@budgets_router.post("", status_code=201, response_model=BudgetOut, responses=responses(409))
async def create_budget(
    body: BudgetIn,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    user: UserContext = require("budgets:write"),
) -> BudgetOut:
    budget = await budget_service.create_budget(session, user, body, runtime.settings)
    record_audit(
        session, "budget.create", org_id=user.org_id, user_id=user.user_id, ip=request_ip(request),
        budget_id=budget.id, scope=budget.scope, period=budget.period,
    )  # fmt: skip
    spend = budget_service.spend_of(runtime)
    [out] = await budget_service.describe_budgets(session, user.org_id, [budget], spend)
    return out


@budgets_router.get("", response_model=BudgetList)
async def list_budgets(
    session: SessionDep, runtime: RuntimeDep, user: UserContext = require("budgets:read")
) -> BudgetList:
    budgets = await budget_service.list_budgets(session, user)
    spend = budget_service.spend_of(runtime)
    return BudgetList(
        budgets=await budget_service.describe_budgets(session, user.org_id, budgets, spend)
    )


@budgets_router.delete("/{budget_id}", status_code=204, responses=responses(404))
async def delete_budget(
    budget_id: PathId,
    request: Request,
    session: SessionDep,
    user: UserContext = require("budgets:write"),
) -> Response:
    await budget_service.delete_budget(session, user, budget_id)
    record_audit(
        session, "budget.delete", org_id=user.org_id, user_id=user.user_id, ip=request_ip(request),
        budget_id=budget_id,
    )  # fmt: skip
    return Response(status_code=204)


def _hook_out(hook: Webhook) -> WebhookOut:
    return WebhookOut(id=hook.id, url=hook.url, events=hook.events, created_at=hook.created_at)


@webhooks_router.post(
    "", status_code=201, response_model=WebhookCreated, responses=responses(400, 409)
)
async def create_webhook(
    body: WebhookIn,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    user: UserContext = require("webhooks:write"),
) -> WebhookCreated:
    hook, secret = await webhook_service.create_webhook(session, user, body, runtime.settings)
    record_audit(
        session, "webhook.create", org_id=user.org_id, user_id=user.user_id, ip=request_ip(request),
        webhook_id=hook.id, url=hook.url, events=hook.events,
    )  # fmt: skip
    # The only time the secret leaves the server.
    return WebhookCreated(**_hook_out(hook).model_dump(), secret=secret)


@webhooks_router.get("", response_model=WebhookList)
async def list_webhooks(
    session: SessionDep, user: UserContext = require("webhooks:read")
) -> WebhookList:
    hooks = await webhook_service.list_webhooks(session, user)
    return WebhookList(webhooks=[_hook_out(h) for h in hooks])


@webhooks_router.get(
    "/{webhook_id}/deliveries", response_model=DeliveryList, responses=responses(404)
)
async def list_deliveries(
    webhook_id: PathId, session: SessionDep, user: UserContext = require("webhooks:read")
) -> DeliveryList:
    rows = await webhook_service.list_deliveries(session, user, webhook_id)
    return DeliveryList(
        deliveries=[
            DeliveryOut(
                id=d.id,
                event_id=d.event_id,
                event_type=event_type,
                status=d.status,
                attempts=d.attempts,
                last_status_code=d.last_status_code,
                last_error=d.last_error,
                created_at=d.created_at,
                delivered_at=d.delivered_at,
            )
            for d, event_type in rows
        ]
    )


@webhooks_router.delete("/{webhook_id}", status_code=204, responses=responses(404))
async def delete_webhook(
    webhook_id: PathId,
    request: Request,
    session: SessionDep,
    user: UserContext = require("webhooks:write"),
) -> Response:
    await webhook_service.delete_webhook(session, user, webhook_id)
    record_audit(
        session, "webhook.delete", org_id=user.org_id, user_id=user.user_id, ip=request_ip(request),
        webhook_id=webhook_id,
    )  # fmt: skip
    return Response(status_code=204)
