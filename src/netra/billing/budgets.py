"""Budgets: a spending limit per scope and period, and alerts when 80 % and 100 % are crossed.

:func:`evaluate_budgets` computes each budget's spend for its current window (UTC day or UTC
calendar month) and records an alert per threshold crossed. The unique key (budget, threshold,
window) makes each alert happen once per window however often it is evaluated, concurrently
included; only the evaluation that recorded an alert emits its ``budget.alert`` webhook.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from netra.billing.models import Budget, BudgetAlert
from netra.billing.repository import BudgetAlertRepository, BudgetRepository
from netra.billing.schemas import BudgetIn, BudgetOut, Window
from netra.billing.webhooks import deliver_via, emit_event, iso
from netra.core.context import UserContext
from netra.core.db import new_id, utcnow
from netra.core.errors import Conflict, NotFound
from netra.core.runtime import Runtime
from netra.core.services import Service
from netra.core.settings import Settings
from netra.tiers import Limit, check, limits_for

THRESHOLDS: tuple[int, ...] = (80, 100)  # percent of the limit
SPEND: Service[SpendFn] = Service("billing_spend")  # how spend is measured (TableSpend)


@dataclass(frozen=True, slots=True)
class Spend:
    usd: float
    records: int = 0
    unpriced_records: int = 0  # neither billed cost nor catalogue price: not counted


class SpendFn(Protocol):
    async def __call__(
        self, session: AsyncSession, org_id: str, scope: str, start: datetime, end: datetime
    ) -> Spend: ...


def window(period: str, now: datetime) -> tuple[datetime, datetime]:
    """The UTC window [start, end) of ``period`` ("day" or "month") containing ``now``."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day, day + timedelta(days=1)
    start = day.replace(day=1)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


def crossed(spend_usd: float, limit_usd: float) -> list[int]:
    # A hair of tolerance so 80.00 of 100.00 counts despite binary floating point.
    return [t for t in THRESHOLDS if spend_usd * 100 >= limit_usd * t - 1e-9]


async def create_budget(
    session: AsyncSession,
    user: UserContext,
    body: BudgetIn,
    settings: Settings,
    *,
    budget_id: str | None = None,
) -> Budget:
    """Create a budget. With ``budget_id`` (a run's action, executed again after its worker
    died), the budget already created under that id is returned instead of a conflict."""
    repo = BudgetRepository(session, user.org_id)
    if budget_id is not None:
        mine = await repo.get(budget_id)
        if mine is not None:
            return mine
    check(limits_for(settings, user.tier), Limit.MAX_BUDGETS, await repo.count())
    taken = await session.scalar(
        repo.select(Budget.id).where(Budget.scope == body.scope, Budget.period == body.period)
    )
    if taken is not None:
        raise _duplicate(body)
    budget = repo.add(
        Budget(
            id=budget_id or new_id(),
            scope=body.scope,
            period=body.period,
            limit_usd=body.limit_usd,
            created_by=user.user_id,
            created_at=utcnow(),
        )
    )
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent create of the same scope and period
        raise _duplicate(body) from exc
    return budget


def _duplicate(body: BudgetIn) -> Conflict:
    return Conflict(
        f"a {body.period} budget for scope '{body.scope}' already exists",
        details={"scope": body.scope, "period": body.period},
    )


async def describe_budgets(
    session: AsyncSession,
    org_id: str,
    budgets: list[Budget],
    spend: SpendFn,
    now: datetime | None = None,
) -> list[BudgetOut]:
    """Each budget with its current window, spend so far and the thresholds already alerted."""
    now = now or utcnow()
    alerts = BudgetAlertRepository(session, org_id)
    out = []
    for budget in budgets:
        start, end = window(budget.period, now)
        used = await spend(session, org_id, budget.scope, start, end)
        alerted = await session.scalars(
            alerts.select(BudgetAlert.threshold)
            .where(BudgetAlert.budget_id == budget.id, BudgetAlert.window_start == start)
            .order_by(BudgetAlert.threshold)
        )
        out.append(
            BudgetOut(
                id=budget.id,
                scope=budget.scope,
                period=budget.period,
                limit_usd=budget.limit_usd,
                created_at=budget.created_at,
                window=Window(start=start, end=end),
                spend_usd=round(used.usd, 6),
                used_pct=round(100 * used.usd / budget.limit_usd, 2),
                unpriced_records=used.unpriced_records,
                alerted_thresholds=list(alerted),
            )
        )
    return out


async def _record_alert(
    session: AsyncSession, budget: Budget, threshold: int, start: datetime, end: datetime,
    spend_usd: float, now: datetime,
) -> str | None:  # fmt: skip
    """Insert the alert unless this (budget, threshold, window) has one; its id if new."""
    values = {
        "id": new_id(),
        "org_id": budget.org_id,
        "budget_id": budget.id,
        "threshold": threshold,
        "window_start": start,
        "window_end": end,
        "spend_usd": spend_usd,
        "limit_usd": budget.limit_usd,
        "created_at": now,
    }
    keys = ["budget_id", "threshold", "window_start"]
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(BudgetAlert)
        .values(**values)
        .on_conflict_do_nothing(index_elements=keys)
        .returning(BudgetAlert.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def alert_payload(
    alert_id: str, budget: Budget, threshold: int, start: datetime, end: datetime,
    spend_usd: float, now: datetime,
) -> dict[str, Any]:  # fmt: skip
    return {
        "alert_id": alert_id,
        "budget_id": budget.id,
        "scope": budget.scope,
        "period": budget.period,
        "threshold_pct": threshold,
        "limit_usd": budget.limit_usd,
        "spend_usd": round(spend_usd, 6),
        "used_pct": round(100 * spend_usd / budget.limit_usd, 2),
        "window": {"start": iso(start), "end": iso(end)},
        "created_at": iso(now),
    }


async def check_budgets(
    session: AsyncSession, org_id: str, spend: SpendFn, now: datetime
) -> list[dict[str, Any]]:
    """Record the alerts newly due for ``org_id`` (flush only); their payloads."""
    budgets = list(
        await session.scalars(
            BudgetRepository(session, org_id).select().order_by(Budget.created_at, Budget.id)
        )
    )
    new: list[dict[str, Any]] = []
    for budget in budgets:
        start, end = window(budget.period, now)
        used = await spend(session, org_id, budget.scope, start, end)
        for threshold in crossed(used.usd, budget.limit_usd):
            alert_id = await _record_alert(session, budget, threshold, start, end, used.usd, now)
            if alert_id is not None:
                new.append(alert_payload(alert_id, budget, threshold, start, end, used.usd, now))
    return new


def spend_of(runtime: Runtime) -> SpendFn:
    fn = runtime.services.get(SPEND)
    if fn is None:
        raise RuntimeError("no spend function configured (the billing component sets one)")
    return fn


async def evaluate_budgets(
    runtime: Runtime,
    org_id: str,
    *,
    spend: SpendFn | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Check every budget of ``org_id`` against its current window; record and emit the alerts
    newly crossed (``budget.alert`` webhooks). Returns the new alerts (empty: nothing new).

    Call it after usage of the organisation was stored (after that commit).
    """
    fn = spend or spend_of(runtime)
    at = now or utcnow()
    deliver = deliver_via(runtime)

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        alerts = await check_budgets(session, org_id, fn, at)
        for alert in alerts:  # each alert row and its event commit together
            await emit_event(session, org_id, "budget.alert", alert, deliver=deliver)
        return alerts

    return await runtime.db.run(work)


async def list_budgets(session: AsyncSession, user: UserContext) -> list[Budget]:
    return await BudgetRepository(session, user.org_id).all()


async def delete_budget(session: AsyncSession, user: UserContext, budget_id: str) -> None:
    """Deletes the budget and, by cascade, its alerts."""
    budget = await BudgetRepository(session, user.org_id).get(budget_id)
    if budget is None:
        raise NotFound(f"budget '{budget_id}' not found")
    await session.delete(budget)
    await session.flush()


__all__ = [
    "SPEND",
    "THRESHOLDS",
    "Spend",
    "SpendFn",
    "check_budgets",
    "create_budget",
    "crossed",
    "delete_budget",
    "describe_budgets",
    "evaluate_budgets",
    "list_budgets",
    "window",
]
