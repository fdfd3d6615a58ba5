"""The billing component: the budgets and webhooks routers and the spend function. Webhook
delivery and budget checks are background jobs: ``billing/tasks.py``."""

from __future__ import annotations

from netra.auth.deps import VERIFIER
from netra.billing.budget_checks import schedule_budget_check
from netra.billing.budgets import SPEND
from netra.billing.router import budgets_router, webhooks_router
from netra.billing.spend import TableSpend
from netra.core.component import Component
from netra.core.runtime import Runtime
from netra.usage.service import USAGE_STORED


async def provide_spend(runtime: Runtime) -> None:
    if SPEND not in runtime.services:  # a test may have put its own
        runtime.services.provide(SPEND, TableSpend())


async def _start(runtime: Runtime) -> None:
    await provide_spend(runtime)

    async def check_budgets(org_id: str) -> None:
        await schedule_budget_check(runtime, org_id)

    runtime.services.provide(USAGE_STORED, check_budgets)


def component() -> Component:
    return Component(
        "billing",
        routers=[budgets_router, webhooks_router],
        start=_start,
        provides=(SPEND, USAGE_STORED),
        needs=(VERIFIER,),
    )
