"""Webhook events are recorded in the caller's transaction (an outbox) on PostgreSQL: a change
that rolls back leaves no event, and a crash between the commit and the hand-off to the
dispatcher loses none: the next process's sweeper delivers it (issue 16, item 4)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from netra.apps.all_in_one import create_app
from netra.billing.models import WebhookDelivery, WebhookEvent
from netra.core.runtime import build_runtime
from netra.reports.models import StoredAnalysis
from netra.reports.service import store_report
from support.accounts import bearer, signup
from support.apps import running_app
from support.webhook_receiver import webhook_receiver

FAST = {"embedded_workers": False, "webhook_retry_base_s": 0.05, "webhook_retry_max_s": 0.1,
        "webhook_sweep_interval_s": 0.2}  # fmt: skip
REPORT = {"period": {"start": None, "end": None}, "records": 3, "total_cost_usd": 1.25,
          "projected_savings_usd": 0.5, "findings": []}  # fmt: skip


class Crash(BaseException):
    """The process dying right after the commit, before the deliveries were handed over (a
    BaseException, like SystemExit: nothing on the way catches it)."""


async def _counts(runtime: Any, org_id: str) -> tuple[int, int, int]:
    async def read(session: Any) -> tuple[int, int, int]:
        def count(model: Any) -> Any:
            return select(func.count()).select_from(model).where(model.org_id == org_id)

        return (
            int(await session.scalar(count(StoredAnalysis))),
            int(await session.scalar(count(WebhookEvent))),
            int(await session.scalar(count(WebhookDelivery))),
        )

    result: tuple[int, int, int] = await runtime.db.run(read)
    return result


async def test_a_crash_between_commit_and_delivery_loses_no_event(pg_settings: Any) -> None:
    settings = pg_settings(**FAST)
    with webhook_receiver() as receiver:
        # The first process: an account and a subscribed webhook through the real app.
        async with running_app(create_app(settings)) as client:
            account = await signup(client)
            auth = bearer(account["access_token"])
            org_id = account["user"]["org_id"]
            hook = await client.post(
                "/api/v1/webhooks",
                json={"url": receiver.url, "events": ["analysis.completed"]},
                headers=auth,
            )
            assert hook.status_code == 201, hook.text
            receiver.secret = hook.json()["secret"]

        # A process with no dispatcher stores a report; it dies after the commit, in the
        # after-commit hand-off.
        crashing = build_runtime(settings)
        await crashing.start()
        try:

            def die(ids: list[str]) -> None:
                raise Crash(ids)

            async def rolled_back(session: Any) -> None:
                await store_report(session, org_id, REPORT, die)
                raise RuntimeError("the caller's change fails after the event was recorded")

            with pytest.raises(RuntimeError):
                await crashing.db.run(rolled_back)
            # Rolled back together: no report, no event, no delivery.
            assert await _counts(crashing, org_id) == (0, 0, 0)

            saved: dict[str, Any] = {}
            with pytest.raises(Crash):
                async with crashing.db.unit_of_work() as session:
                    saved = await store_report(session, org_id, REPORT, die)
            # It died in the hand-off, after the commit: all three rows exist, nothing was sent.
            assert await _counts(crashing, org_id) == (1, 1, 1)
            assert receiver.requests == []
        finally:
            await crashing.stop()

        # The next process: its dispatcher's sweeper finds the pending delivery and sends it.
        async with running_app(create_app(settings)):
            [delivered] = await receiver.wait_for(1)
        assert delivered.signature_ok
        body = delivered.json()
        assert body["type"] == "analysis.completed"
        assert body["data"]["analysis_id"] == saved["id"]
