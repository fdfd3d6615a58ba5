"""Budgets on PostgreSQL through the real app: create/list with validation, permissions, tier
limit and tenant isolation; spend from stored usage (billed cost, else the catalogue price) and
``budget.alert`` webhooks at 80 % and 100 %, once per window."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from netra.apps.all_in_one import create_app
from netra.auth.component import KEYS
from netra.auth.tokens import issue_access_token
from netra.billing.budget_checks import schedule_budget_check
from netra.billing.budgets import evaluate_budgets
from netra.pricing.catalogue import Catalogue
from support.accounts import bearer, signup
from support.apps import running_app
from support.webhook_receiver import webhook_receiver

FAST = {"embedded_workers": False, "webhook_retry_base_s": 0.05, "webhook_retry_max_s": 0.1}


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


async def test_budgets_create_list_validate_and_isolate(pg_settings) -> None:  # type: ignore[no-untyped-def]
    app = create_app(pg_settings(budgets_max_free=2, **FAST))
    async with running_app(app) as client:
        a, b = await signup(client), await signup(client)
        auth = bearer(a["access_token"])
        created = await client.post(
            "/api/v1/budgets",
            json={"scope": "feature:search", "period": "month", "limit_usd": 250},
            headers=auth,
        )
        assert created.status_code == 201, created.text
        budget = created.json()
        assert budget["scope"] == "feature:search" and budget["period"] == "month"
        assert budget["limit_usd"] == 250 and budget["spend_usd"] == 0
        assert budget["alerted_thresholds"] == []
        now = datetime.now(UTC)
        assert budget["window"]["start"].startswith(f"{now:%Y-%m}-01T00:00:00")

        for body, field in (
            ({"scope": "team:x", "period": "day", "limit_usd": 5}, "scope"),
            ({"scope": "feature:", "period": "day", "limit_usd": 5}, "scope"),
            ({"scope": "org", "period": "week", "limit_usd": 5}, "period"),
            ({"scope": "org", "period": "day", "limit_usd": 0}, "limit_usd"),
            ({"scope": "org", "period": "day", "limit_usd": "ten"}, "limit_usd"),
            ({"scope": "org", "period": "day"}, "limit_usd"),
        ):
            error = _error(await client.post("/api/v1/budgets", json=body, headers=auth), 422)
            assert error["code"] == "validation_error"
            assert [d["field"] for d in error["details"]["fields"]] == [field], body

        duplicate = await client.post(
            "/api/v1/budgets",
            json={"scope": "feature:search", "period": "month", "limit_usd": 9},
            headers=auth,
        )
        assert _error(duplicate, 409)["code"] == "conflict"

        runtime = app.state.runtime
        member, _ = issue_access_token(
            runtime.services[KEYS], runtime.settings, user_id="m-1",
            org_id=a["user"]["org_id"], tier="free", role="member",
        )  # fmt: skip
        refused = await client.post(
            "/api/v1/budgets",
            json={"scope": "org", "period": "day", "limit_usd": 5},
            headers=bearer(member),
        )
        assert "budgets:write" in _error(refused, 403)["message"]
        seen = (await client.get("/api/v1/budgets", headers=bearer(member))).json()["budgets"]
        assert [x["id"] for x in seen] == [budget["id"]]

        second = await client.post(
            "/api/v1/budgets", json={"scope": "org", "period": "day", "limit_usd": 5}, headers=auth
        )
        assert second.status_code == 201
        third = await client.post(
            "/api/v1/budgets", json={"scope": "org", "period": "month", "limit_usd": 5},
            headers=auth,
        )  # fmt: skip
        assert _error(third, 403)["details"] == {"resource": "budgets", "limit": 2, "tier": "free"}

        listed = (await client.get("/api/v1/budgets", headers=auth)).json()["budgets"]
        assert [x["id"] for x in listed] == [budget["id"], second.json()["id"]]
        other = await client.get("/api/v1/budgets", headers=bearer(b["access_token"]))
        assert other.json() == {"budgets": []}
        assert (await client.get("/api/v1/budgets")).status_code == 401

        # Deleting makes room again; another org cannot delete it, a member neither.
        path = f"/api/v1/budgets/{budget['id']}"
        assert (await client.delete(path, headers=bearer(b["access_token"]))).status_code == 404
        assert (await client.delete(path, headers=bearer(member))).status_code == 403
        assert (await client.delete(path, headers=auth)).status_code == 204
        assert (await client.delete(path, headers=auth)).status_code == 404
        again = await client.post(
            "/api/v1/budgets", json={"scope": "org", "period": "month", "limit_usd": 5},
            headers=auth,
        )  # fmt: skip
        assert again.status_code == 201


def _record(**fields: Any) -> dict[str, Any]:
    return {
        "timestamp": datetime.now(UTC).isoformat(),
        "provider": "openai",
        "model": "gpt-4o",
        "input_tokens": 1000,
        "output_tokens": 200,
        **fields,
    }


async def test_stored_usage_raises_each_alert_once_with_a_signed_webhook(pg_settings) -> None:  # type: ignore[no-untyped-def]
    app = create_app(pg_settings(**FAST))
    with webhook_receiver() as receiver:
        async with running_app(app) as client:
            account, other = await signup(client), await signup(client)
            auth, org_id = bearer(account["access_token"]), account["user"]["org_id"]
            hook = await client.post(
                "/api/v1/webhooks",
                json={"url": receiver.url, "events": ["budget.alert"]},
                headers=auth,
            )
            receiver.secret = hook.json()["secret"]
            budgets = {}
            for scope, period, limit in (
                ("feature:chat", "day", 10.0),
                ("org", "month", 1000.0),
                ("model:gpt-4o", "day", 1000.0),
            ):
                response = await client.post(
                    "/api/v1/budgets",
                    json={"scope": scope, "period": period, "limit_usd": limit},
                    headers=auth,
                )
                budgets[scope] = response.json()["id"]
            # Billed rows for the feature (8.5 of 10: 85 %), one row priced from the catalogue,
            # one of a model nobody prices; and another org's spend, which must not count.
            records = [
                _record(feature="chat", cost_usd=5.0, model="my-finetune"),
                _record(feature="chat", cost_usd=3.5),
                _record(feature="search", input_tokens=120_000, output_tokens=30_000),
                _record(feature="search", provider="acme", model="mystery-1"),
            ]
            stored = await client.post("/api/v1/usage", json={"records": records}, headers=auth)
            assert stored.status_code == 200, stored.text
            assert stored.json()["accepted"] == 4
            foreign = [_record(feature="chat", cost_usd=500.0)]
            await client.post(
                "/api/v1/usage", json={"records": foreign}, headers=bearer(other["access_token"])
            )

            # The ingest schedules a budget check after its commit: the 80 % alert arrives
            # without anyone asking, once, as a signed webhook.
            runtime = app.state.runtime
            [request] = await receiver.wait_for(1)
            assert request.signature_ok
            body = request.json()
            assert body["type"] == "budget.alert"
            assert body["data"]["budget_id"] == budgets["feature:chat"]
            assert body["data"]["threshold_pct"] == 80
            assert await evaluate_budgets(runtime, org_id) == []  # no alert storm

            now = datetime.now(UTC)
            day = now.replace(hour=0, minute=0, second=0, microsecond=0)
            rates = Catalogue().rates("openai", "gpt-4o", day)
            assert rates is not None
            catalogue_cost = rates.cost(120_000, 30_000)
            assert catalogue_cost > 0
            listed = {
                x["scope"]: x
                for x in (await client.get("/api/v1/budgets", headers=auth)).json()["budgets"]
            }
            chat, org, model = listed["feature:chat"], listed["org"], listed["model:gpt-4o"]
            assert chat["spend_usd"] == 8.5 and chat["used_pct"] == 85.0
            assert chat["alerted_thresholds"] == [80]
            assert abs(org["spend_usd"] - (8.5 + catalogue_cost)) < 1e-6
            assert org["unpriced_records"] == 1 and org["alerted_thresholds"] == []
            assert abs(model["spend_usd"] - (3.5 + catalogue_cost)) < 1e-6

            more = [_record(feature="chat", cost_usd=2.0, request_id="chat-more-1")]
            await client.post("/api/v1/usage", json={"records": more}, headers=auth)
            # What the ingest calls after its commit: a background check, coalesced per org.
            await schedule_budget_check(runtime, org_id)
            requests = await receiver.wait_for(2)
            assert [r.json()["data"]["threshold_pct"] for r in requests] == [80, 100]
            assert all(r.signature_ok for r in requests)
            assert await evaluate_budgets(runtime, org_id) == []
            assert await evaluate_budgets(runtime, other["user"]["org_id"]) == []  # no budgets


async def test_a_runs_budget_is_created_once_however_often_its_step_runs(pg_settings) -> None:  # type: ignore[no-untyped-def]
    """A run's "create a budget" action executed again by the worker that took the run over
    returns the budget the first execution created, where any other create of it conflicts."""
    from netra.billing.budgets import create_budget
    from netra.billing.schemas import BudgetIn
    from netra.core.context import UserContext
    from netra.core.db import derived_id
    from netra.core.errors import Conflict

    settings = pg_settings(**FAST)
    app = create_app(settings)
    async with running_app(app) as client:
        account = await signup(client)
        me = (await client.get("/auth/me", headers=bearer(account["access_token"]))).json()
        ctx = UserContext(user_id=me["id"], org_id=me["org_id"], tier="free", role="owner")
        body = BudgetIn(scope="org", period="month", limit_usd=100)
        key = derived_id("run", "run-1", "budget")
        db = app.state.runtime.db
        first = await db.run(lambda s: create_budget(s, ctx, body, settings, budget_id=key))
        again = await db.run(lambda s: create_budget(s, ctx, body, settings, budget_id=key))
        assert again.id == first.id == key
        listed = await client.get("/api/v1/budgets", headers=bearer(account["access_token"]))
        assert [b["id"] for b in listed.json()["budgets"]] == [key]
        try:
            await db.run(lambda s: create_budget(s, ctx, body, settings))
        except Conflict:
            pass
        else:
            raise AssertionError("a second budget for the same scope and period was created")
