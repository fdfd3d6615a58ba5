"""The billing domain's background jobs: webhook delivery (the dispatcher and its sweeper) and
budget checks. Registered in the task list of every app that emits events (API, all-in-one,
worker), so events emitted there go out at once instead of at another process's next sweep."""

from __future__ import annotations

from netra.billing.budget_checks import CHECKER, BudgetChecker
from netra.billing.budgets import SPEND
from netra.billing.component import provide_spend
from netra.billing.delivery import WebhookDispatcher
from netra.billing.webhooks import DISPATCHER
from netra.core.component import Component
from netra.core.lifecycle import Dependency
from netra.core.runtime import Runtime


async def _start(runtime: Runtime) -> None:
    await provide_spend(runtime)
    dispatcher = WebhookDispatcher(runtime)
    await dispatcher.start()
    runtime.services.provide(DISPATCHER, dispatcher)
    # Optional: deliveries wait in the database and are retried; readiness only degrades.
    runtime.lifecycle.add(
        Dependency("webhook_delivery", check=dispatcher.health, required=False, essential=False)
    )
    runtime.services.provide(CHECKER, BudgetChecker(runtime))


async def _stop(runtime: Runtime) -> None:
    # Budget checks first: they may still emit budget.alert events for the dispatcher.
    checker = runtime.services.pop(CHECKER)
    if checker is not None:
        await checker.stop(runtime.settings.webhook_drain_s)
    dispatcher = runtime.services.pop(DISPATCHER)
    if dispatcher is not None:
        await dispatcher.stop()


def webhook_delivery() -> Component:
    return Component(
        "webhook-delivery", start=_start, stop=_stop, provides=(SPEND, DISPATCHER, CHECKER)
    )
