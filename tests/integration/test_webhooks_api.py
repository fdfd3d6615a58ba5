"""Webhooks on PostgreSQL through the real app: create/list/delete, signed deliveries to a real
HTTP receiver with a retry after a 500, the deliveries record, validation and tenant isolation."""

from __future__ import annotations

import asyncio
from typing import Any

from netra.apps.all_in_one import create_app
from netra.auth.component import KEYS
from netra.auth.tokens import issue_access_token
from netra.billing.webhooks import DISPATCHER
from support.accounts import bearer, signup
from support.apps import running_app
from support.webhook_receiver import webhook_receiver
from support.webhooks import emit

FAST = {
    "embedded_workers": False,
    "webhook_retry_base_s": 0.05,
    "webhook_retry_max_s": 0.1,
    "webhook_sweep_interval_s": 0.2,
}


async def _deliveries(client: Any, hook_id: str, headers: dict[str, str], want: str) -> list[Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30.0
    rows: list[Any] = []
    while loop.time() < deadline:
        response = await client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=headers)
        assert response.status_code == 200, response.text
        rows = response.json()["deliveries"]
        if rows and all(r["status"] == want for r in rows):
            return rows
        await asyncio.sleep(0.02)
    raise AssertionError(f"deliveries never all {want}: {rows}")


async def test_signed_delivery_is_retried_after_a_500_and_recorded(
    pg_settings, own_database
) -> None:  # type: ignore[no-untyped-def]
    # Its own database: the metrics below count every delivery this app's sweeper attempts, and
    # the session's database holds other tests' pending deliveries.
    app = create_app(pg_settings(database_url=own_database, **FAST))
    with webhook_receiver(500) as receiver:
        async with running_app(app) as client:
            account = await signup(client)
            auth = bearer(account["access_token"])
            org_id = account["user"]["org_id"]
            created = await client.post(
                "/api/v1/webhooks",
                json={"url": receiver.url, "events": ["run.completed", "budget.alert"]},
                headers=auth,
            )
            assert created.status_code == 201, created.text
            hook = created.json()
            assert set(hook) == {"id", "url", "events", "secret", "created_at"}
            assert hook["url"] == receiver.url and hook["secret"].startswith("whsec_")
            receiver.secret = hook["secret"]
            listed = (await client.get("/api/v1/webhooks", headers=auth)).json()["webhooks"]
            assert [h["id"] for h in listed] == [hook["id"]]
            assert "secret" not in listed[0]

            runtime = app.state.runtime
            await emit(runtime, org_id, "run.completed", {"run_id": "run-1", "cost": 1.5})
            await emit(runtime, org_id, "analysis.completed", {"id": "not subscribed"})
            requests = await receiver.wait_for(1)
            assert [r.status for r in requests] == [500, 200]
            assert all(r.signature_ok for r in requests)
            assert requests[0].body == requests[1].body  # the same bytes, the same signature
            payload = requests[1].json()
            assert set(payload) == {"id", "type", "created_at", "data"}
            assert payload["type"] == "run.completed"
            assert payload["data"] == {"run_id": "run-1", "cost": 1.5}
            assert requests[1].headers["content-type"] == "application/json"

            [row] = await _deliveries(client, hook["id"], auth, "delivered")
            assert row["event_id"] == payload["id"] and row["event_type"] == "run.completed"
            assert row["attempts"] == 2 and row["last_status_code"] == 200
            assert row["delivered_at"] is not None
            metrics = (await client.get("/metrics")).text
            assert 'netra_webhook_deliveries_total{result="retry"} 1.0' in metrics
            assert 'netra_webhook_deliveries_total{result="delivered"} 1.0' in metrics

            deleted = await client.delete(f"/api/v1/webhooks/{hook['id']}", headers=auth)
            assert deleted.status_code == 204
            assert (await client.get("/api/v1/webhooks", headers=auth)).json() == {"webhooks": []}
            again = await client.delete(f"/api/v1/webhooks/{hook['id']}", headers=auth)
            assert again.status_code == 404 and again.json()["error"]["code"] == "not_found"
            # A deleted webhook receives nothing more: no delivery is even created for it.
            assert await emit(runtime, org_id, "run.completed", {"run_id": "run-2"}) == []
            await runtime.services[DISPATCHER].idle()
            assert len(receiver.requests) == 2


async def test_org_b_cannot_see_use_or_delete_org_a_webhooks(pg_settings) -> None:  # type: ignore[no-untyped-def]
    app = create_app(pg_settings(**FAST))
    with webhook_receiver() as receiver:
        async with running_app(app) as client:
            a, b = await signup(client), await signup(client)
            auth_a, auth_b = bearer(a["access_token"]), bearer(b["access_token"])
            created = await client.post(
                "/api/v1/webhooks",
                json={"url": receiver.url, "events": ["run.completed"]},
                headers=auth_a,
            )
            hook_id = created.json()["id"]
            receiver.secret = created.json()["secret"]
            assert (await client.get("/api/v1/webhooks", headers=auth_b)).json() == {"webhooks": []}
            for response in (
                await client.delete(f"/api/v1/webhooks/{hook_id}", headers=auth_b),
                await client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=auth_b),
            ):
                assert response.status_code == 404, response.text
            runtime = app.state.runtime
            await emit(runtime, b["user"]["org_id"], "run.completed", {"run_id": "b"})
            await emit(runtime, a["user"]["org_id"], "run.completed", {"run_id": "a"})
            [request] = await receiver.wait_for(1)
            assert request.json()["data"] == {"run_id": "a"}  # B's event never reaches A
            listed = (await client.get("/api/v1/webhooks", headers=auth_a)).json()["webhooks"]
            assert [h["id"] for h in listed] == [hook_id]  # still there for its owner


async def test_validation_permissions_and_tier_limit(pg_settings) -> None:  # type: ignore[no-untyped-def]
    app = create_app(pg_settings(webhooks_max_free=1, **FAST))
    async with running_app(app) as client:
        account = await signup(client)
        auth = bearer(account["access_token"])
        url = "http://127.0.0.1:9/hook"

        unknown = await client.post(
            "/api/v1/webhooks",
            json={"url": url, "events": ["run.completed", "run.exploded", "usage.stored"]},
            headers=auth,
        )
        assert unknown.status_code == 422
        error = unknown.json()["error"]
        assert error["code"] == "validation_error"
        [detail] = error["details"]["fields"]
        assert detail["field"] == "events"
        assert "run.exploded" in detail["message"] and "usage.stored" in detail["message"]

        for bad in ("ftp://127.0.0.1/x", "not a url", "https://user:pw@example.com/"):
            response = await client.post(
                "/api/v1/webhooks", json={"url": bad, "events": ["run.completed"]}, headers=auth
            )
            assert response.status_code == 422, bad
            [detail] = response.json()["error"]["details"]["fields"]
            assert detail["field"] == "url" and detail["message"], detail

        missing = await client.post("/api/v1/webhooks", json={"url": url}, headers=auth)
        assert missing.status_code == 422
        assert missing.json()["error"]["details"]["fields"][0]["field"] == "events"
        assert (await client.post("/api/v1/webhooks", json={})).status_code == 401

        runtime = app.state.runtime
        member, _ = issue_access_token(
            runtime.services[KEYS],
            runtime.settings,
            user_id="member-1",
            org_id=account["user"]["org_id"],
            tier="free",
            role="member",
        )
        refused = await client.post(
            "/api/v1/webhooks",
            json={"url": url, "events": ["run.completed"]},
            headers=bearer(member),
        )
        assert refused.status_code == 403 and "webhooks:write" in refused.json()["error"]["message"]

        first = await client.post(
            "/api/v1/webhooks", json={"url": url, "events": ["budget.alert"]}, headers=auth
        )
        assert first.status_code == 201
        # A member reads the organisation's webhooks (never their secret).
        seen = await client.get("/api/v1/webhooks", headers=bearer(member))
        assert [h["id"] for h in seen.json()["webhooks"]] == [first.json()["id"]]
        second = await client.post(
            "/api/v1/webhooks", json={"url": url, "events": ["budget.alert"]}, headers=auth
        )
        assert second.status_code == 403
        assert second.json()["error"]["details"] == {
            "resource": "webhooks",
            "limit": 1,
            "tier": "free",
        }
