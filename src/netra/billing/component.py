"""The billing component: budgets and webhooks routers, the spend function, and the webhook
dispatcher (started with the app, drained or cancelled when it stops)."""

from __future__ import annotations

from netra.billing.budget_checks import CHECKER, BudgetChecker
from netra.billing.budgets import SPEND
from netra.billing.delivery import WebhookDispatcher
from netra.billing.router import budgets_router, webhooks_router
from netra.billing.spend import TableSpend
from netra.billing.webhooks import DISPATCHER
from netra.core.component import Component
from netra.core.lifecycle import Dependency
from netra.core.runtime import Runtime


async def _start(runtime: Runtime) -> None:
    runtime.extras.setdefault(SPEND, TableSpend())
    dispatcher = WebhookDispatcher(runtime)
    await dispatcher.start()
    runtime.extras[DISPATCHER] = dispatcher
    runtime.lifecycle.add(
        Dependency("webhook_delivery", check=dispatcher.health, required=False, essential=False)
    )
    runtime.extras[CHECKER] = BudgetChecker(runtime)


async def _stop(runtime: Runtime) -> None:
    # Budget checks first: they may still emit budget.alert events for the dispatcher.
    checker = runtime.extras.pop(CHECKER, None)
    if isinstance(checker, BudgetChecker):
        await checker.stop(runtime.settings.webhook_drain_s)
    dispatcher = runtime.extras.pop(DISPATCHER, None)
    if isinstance(dispatcher, WebhookDispatcher):
        await dispatcher.stop()


def component() -> Component:
    return Component("billing", routers=[budgets_router, webhooks_router], start=_start, stop=_stop)


def delivery_component() -> Component:
    """Webhook delivery and budget evaluation without routes (for ``netra worker``), so events
    emitted there go out at once instead of at the API's next sweep."""
    return Component("billing-delivery", start=_start, stop=_stop)
