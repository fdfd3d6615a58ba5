"""Billing: budget alerts once per threshold and window, webhook delivery with retries, claims,
and a stop that does not hang on a slow receiver. SQLite file and an in-memory HTTP transport."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from netra.billing.budget_checks import CHECKER, BudgetChecker, schedule_budget_check
from netra.billing.budgets import SPEND, Spend, evaluate_budgets
from netra.billing.delivery import WebhookDispatcher, backoff_s
from netra.billing.models import Budget, BudgetAlert, Webhook, WebhookDelivery, WebhookEvent
from netra.billing.signing import verify
from netra.billing.webhooks import DISPATCHER
from netra.core.db import Base, new_id
from netra.core.runtime import Runtime, build_runtime
from support.webhooks import emit

TABLES = [m.__table__ for m in (Budget, BudgetAlert, Webhook, WebhookEvent, WebhookDelivery)]
ORG = "org_a"


@pytest.fixture
def runtime_settings() -> dict[str, Any]:
    return {
        "webhook_retry_base_s": 0.01,
        "webhook_retry_max_s": 0.02,
        "webhook_max_attempts": 3,
        "webhook_timeout_s": 2.0,
        "webhook_drain_s": 0.3,
        "webhook_sweep_interval_s": 0.05,
    }


async def _add(rt: Runtime, *objs: Any) -> None:
    async def work(session: AsyncSession) -> None:
        session.add_all(objs)

    await rt.db.run(work)


def _hook(url: str = "http://127.0.0.1:9/hook", events: list[str] | None = None) -> Webhook:
    return Webhook(id=new_id(), org_id=ORG, url=url, secret="whsec_test-secret",
                   events=events or ["budget.alert", "run.completed"])  # fmt: skip


async def _rows(rt: Runtime, model: Any) -> list[Any]:
    async def work(session: AsyncSession) -> list[Any]:
        return list(await session.scalars(select(model)))

    return await rt.db.run(work)


class FakeSpend:
    def __init__(self) -> None:
        self.usd: dict[str, float] = {}
        self.calls: list[tuple[str, datetime, datetime]] = []

    async def __call__(
        self, session: AsyncSession, org_id: str, scope: str, start: datetime, end: datetime
    ) -> Spend:
        assert org_id == ORG
        self.calls.append((scope, start, end))
        return Spend(usd=self.usd.get(scope, 0.0))


async def test_alerts_fire_once_per_threshold_and_window(runtime: Runtime) -> None:
    spend = FakeSpend()
    org_budget = Budget(id=new_id(), org_id=ORG, scope="org", period="day", limit_usd=100.0)
    feature = Budget(id=new_id(), org_id=ORG, scope="feature:chat", period="month", limit_usd=10)
    other_org = Budget(id=new_id(), org_id="org_b", scope="org", period="day", limit_usd=1.0)
    await _add(runtime, org_budget, feature, other_org, _hook())
    day1 = datetime(2026, 11, 25, 10, tzinfo=UTC)

    async def evaluate(at: datetime) -> list[tuple[str, int]]:
        alerts = await evaluate_budgets(runtime, ORG, spend=spend, now=at)
        return sorted((a["scope"], a["threshold_pct"]) for a in alerts)

    spend.usd = {"org": 50.0, "feature:chat": 2.0}
    assert await evaluate(day1) == []
    spend.usd = {"org": 85.0, "feature:chat": 2.0}
    assert await evaluate(day1) == [("org", 80)]
    assert await evaluate(day1 + timedelta(hours=1)) == []  # no storm
    spend.usd = {"org": 140.0, "feature:chat": 12.0}  # the feature jumps past both at once
    assert await evaluate(day1 + timedelta(hours=2)) == [
        ("feature:chat", 80), ("feature:chat", 100), ("org", 100)
    ]  # fmt: skip
    assert await evaluate(day1 + timedelta(hours=3)) == []
    # A new day is a new window for the daily budget only.
    assert await evaluate(day1 + timedelta(days=1)) == [("org", 80), ("org", 100)]
    assert {(s, st) for s, st, _ in spend.calls} >= {
        ("org", datetime(2026, 11, 26, tzinfo=UTC)),
        ("feature:chat", datetime(2026, 11, 1, tzinfo=UTC)),
    }
    alerts = await _rows(runtime, BudgetAlert)
    assert len(alerts) == 6 and {a.org_id for a in alerts} == {ORG}
    # Each new alert became one budget.alert event with one pending delivery (no dispatcher).
    events = await _rows(runtime, WebhookEvent)
    assert len(events) == 6 and {e.type for e in events} == {"budget.alert"}
    payloads = [json.loads(e.body) for e in events]
    assert {p["data"]["alert_id"] for p in payloads} == {a.id for a in alerts}
    assert all(p["id"] == e.id for p, e in zip(payloads, events, strict=True))
    deliveries = await _rows(runtime, WebhookDelivery)
    assert len(deliveries) == 6 and {d.status for d in deliveries} == {"pending"}


async def test_concurrent_evaluations_alert_once(runtime: Runtime) -> None:
    spend = FakeSpend()
    spend.usd = {"org": 100.0}
    await _add(runtime, Budget(id=new_id(), org_id=ORG, scope="org", period="day", limit_usd=100))
    at = datetime(2026, 11, 25, 10, tzinfo=UTC)
    results = await asyncio.gather(
        *(evaluate_budgets(runtime, ORG, spend=spend, now=at) for _ in range(5))
    )
    assert sorted(a["threshold_pct"] for r in results for a in r) == [80, 100]


class Receiver:
    """An in-memory receiver: answers from a script, checks signatures, records bodies."""

    def __init__(self, statuses: list[int], delay_s: float = 0.0) -> None:
        self.statuses = statuses
        self.delay_s = delay_s
        self.bodies: list[bytes] = []
        self.signatures_ok: list[bool] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        self.bodies.append(body)
        self.signatures_ok.append(
            verify("whsec_test-secret", body, request.headers.get("x-netra-signature"))
        )
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        status = self.statuses[min(len(self.bodies), len(self.statuses)) - 1]
        return httpx.Response(status)


async def _dispatcher(rt: Runtime, receiver: Receiver, sweep: bool = False) -> WebhookDispatcher:
    client = httpx.AsyncClient(transport=httpx.MockTransport(receiver))
    dispatcher = WebhookDispatcher(rt, client=client)
    await dispatcher.start(sweep=sweep)
    rt.services.provide(DISPATCHER, dispatcher)
    return dispatcher


def _count(rt: Runtime, result: str) -> float:
    return rt.metrics.webhooks.labels(result)._value.get()


async def test_retry_after_500_then_delivered_with_the_same_signed_body(runtime: Runtime) -> None:
    hook = _hook()
    await _add(runtime, hook)
    receiver = Receiver([500, 200])
    dispatcher = await _dispatcher(runtime, receiver)
    await emit(runtime, ORG, "run.completed", {"run_id": "r1", "at": datetime.now(UTC)})
    await dispatcher.idle()
    await dispatcher.stop()
    assert len(receiver.bodies) == 2 and receiver.bodies[0] == receiver.bodies[1]
    assert receiver.signatures_ok == [True, True]
    payload = json.loads(receiver.bodies[0])
    assert set(payload) == {"id", "type", "created_at", "data"}
    assert payload["type"] == "run.completed" and payload["data"]["run_id"] == "r1"
    [delivery] = await _rows(runtime, WebhookDelivery)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 2, 200)
    assert delivery.delivered_at is not None and delivery.webhook_id == hook.id
    assert delivery.event_id == payload["id"]
    assert (_count(runtime, "retry"), _count(runtime, "delivered")) == (1, 1)


async def test_only_subscribed_webhooks_of_the_org_receive(runtime: Runtime) -> None:
    await _add(
        runtime,
        _hook(events=["analysis.completed"]),
        Webhook(
            id=new_id(), org_id="org_b", url="http://b.test/", secret="s", events=["run.completed"]
        ),
    )
    receiver = Receiver([200])
    dispatcher = await _dispatcher(runtime, receiver)
    await emit(runtime, ORG, "run.completed", {"run_id": "r1"})
    await dispatcher.idle()
    await dispatcher.stop()
    assert receiver.bodies == []
    assert await _rows(runtime, WebhookEvent) == []  # nobody listens: nothing recorded
    with pytest.raises(ValueError, match="unknown webhook event type"):
        await emit(runtime, ORG, "run.exploded", {})


async def test_permanent_4xx_fails_at_once_and_5xx_gives_up_after_max_attempts(
    runtime: Runtime,
) -> None:
    await _add(runtime, _hook(url="http://127.0.0.1:9/gone"))
    gone = Receiver([410])
    dispatcher = await _dispatcher(runtime, gone)
    await emit(runtime, ORG, "run.completed", {"n": 1})
    await dispatcher.idle()
    await dispatcher.stop()
    [delivery] = await _rows(runtime, WebhookDelivery)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, 410)
    assert len(gone.bodies) == 1

    down = Receiver([503])
    dispatcher = await _dispatcher(runtime, down)
    await emit(runtime, ORG, "run.completed", {"n": 2})
    await dispatcher.idle()
    await dispatcher.stop()
    assert len(down.bodies) == 3  # webhook_max_attempts
    statuses = sorted(
        (d.status, d.attempts, d.last_error) for d in await _rows(runtime, WebhookDelivery)
    )
    assert statuses == [("failed", 1, "HTTP 410"), ("failed", 3, "HTTP 503")]
    assert _count(runtime, "failed") == 2 and _count(runtime, "retry") == 2


async def test_two_dispatchers_never_send_the_same_delivery_twice(runtime: Runtime) -> None:
    await _add(runtime, _hook())
    first, second = Receiver([200]), Receiver([200])
    a = await _dispatcher(runtime, first)
    b = WebhookDispatcher(runtime, client=httpx.AsyncClient(transport=httpx.MockTransport(second)))
    await b.start(sweep=False)
    runtime.services.pop(DISPATCHER)  # record only; hand the same ids to both
    await emit(runtime, ORG, "run.completed", {"n": 1})
    ids = [d.id for d in await _rows(runtime, WebhookDelivery)]
    a.submit(ids)
    b.submit(ids)
    await asyncio.gather(a.idle(), b.idle())
    await a.stop()
    await b.stop()
    assert len(first.bodies) + len(second.bodies) == 1


async def test_emit_does_not_wait_for_a_slow_receiver_and_stop_does_not_hang(
    runtime: Runtime,
) -> None:
    await _add(runtime, _hook())
    slow = Receiver([200], delay_s=30)
    dispatcher = await _dispatcher(runtime, slow)
    started = time.perf_counter()
    await emit(runtime, ORG, "run.completed", {"n": 1})
    emitted = time.perf_counter() - started
    for _ in range(100):
        if slow.bodies:
            break
        await asyncio.sleep(0.01)
    assert slow.bodies and emitted < 5  # the request started; emit had returned long before
    started = time.perf_counter()
    await dispatcher.stop()  # drains for webhook_drain_s (0.3 s), then cancels
    assert time.perf_counter() - started < 5
    [delivery] = await _rows(runtime, WebhookDelivery)
    assert delivery.status == "pending" and delivery.attempts == 0  # left for a later sweep


async def test_the_sweeper_delivers_what_another_process_recorded(runtime: Runtime) -> None:
    await _add(runtime, _hook())
    await emit(runtime, ORG, "run.completed", {"n": 1})  # no dispatcher here: recorded
    receiver = Receiver([200])
    dispatcher = await _dispatcher(runtime, receiver, sweep=True)
    for _ in range(200):
        [delivery] = await _rows(runtime, WebhookDelivery)
        if delivery.status == "delivered":
            break
        await asyncio.sleep(0.02)
    await dispatcher.stop()
    assert delivery.status == "delivered" and len(receiver.bodies) == 1


def test_backoff_grows_and_is_capped() -> None:
    for attempts, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (8, 10.0)):
        delays = [backoff_s(attempts, 1.0, 10.0) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (attempts, delays[:3])


async def test_budget_checks_coalesce_per_org_and_run_in_the_background(runtime: Runtime) -> None:
    gate = asyncio.Event()
    calls: list[str] = []

    async def slow_spend(
        session: AsyncSession, org_id: str, scope: str, start: datetime, end: datetime
    ) -> Spend:
        calls.append(org_id)
        await gate.wait()
        return Spend(usd=0.0)

    runtime.services.provide(SPEND, slow_spend)
    checker = BudgetChecker(runtime)
    runtime.services.provide(CHECKER, checker)
    await _add(
        runtime,
        Budget(id=new_id(), org_id=ORG, scope="org", period="day", limit_usd=1),
        Budget(id=new_id(), org_id="org_b", scope="org", period="day", limit_usd=1),
    )
    for _ in range(3):  # before the check started reading: all served by that one check
        await schedule_budget_check(runtime, ORG)
    await schedule_budget_check(runtime, "org_b")
    for _ in range(100):
        if len(calls) == 2:
            break
        await asyncio.sleep(0.01)
    assert sorted(calls) == [ORG, "org_b"]  # both orgs run concurrently; schedule never waits
    for _ in range(4):  # while it runs: they collapse into one re-check afterwards
        await schedule_budget_check(runtime, ORG)
    gate.set()
    await checker.idle()
    assert sorted(calls) == [ORG, ORG, "org_b"]
    await checker.stop()
    await schedule_budget_check(runtime, ORG)  # after stop: ignored
    assert len(calls) == 3


async def test_production_pins_the_checked_address_and_refuses_a_rebound_name(
    make_settings,  # type: ignore[no-untyped-def]
) -> None:
    rt = build_runtime(make_settings(env="production", webhook_max_attempts=2))
    async with rt.db.engine.begin() as conn:
        await conn.run_sync(lambda c: Base.metadata.create_all(c, tables=TABLES))
    answers = {"hooks.example.com": ["93.184.216.34"]}

    async def resolve(host: str, port: int) -> list[str]:
        return answers[host]

    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    dispatcher = WebhookDispatcher(rt, client=client, resolve=resolve)
    await dispatcher.start(sweep=False)
    rt.services.provide(DISPATCHER, dispatcher)
    try:
        await _add(rt, _hook(url="https://hooks.example.com:8443/netra?x=1"))
        await emit(rt, ORG, "run.completed", {"n": 1})
        await dispatcher.idle()
        [request] = seen
        assert str(request.url) == "https://93.184.216.34:8443/netra?x=1"
        assert request.headers["host"] == "hooks.example.com:8443"
        assert request.extensions["sni_hostname"] == "hooks.example.com"

        answers["hooks.example.com"] = ["10.0.0.7"]  # the name now points inside
        await emit(rt, ORG, "run.completed", {"n": 2})
        await dispatcher.idle()
        assert len(seen) == 1  # nothing sent
        rows = sorted(await _rows(rt, WebhookDelivery), key=lambda d: d.attempts)
        failed = [d for d in rows if d.status == "failed"]
        assert len(failed) == 1 and "not an allowed" in (failed[0].last_error or "")
        assert "10.0.0.7" not in (failed[0].last_error or "")  # never what a name resolved to
    finally:
        await dispatcher.stop()
        await rt.db.close()
