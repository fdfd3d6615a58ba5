"""I15: retention purges usage records, run events, webhook events and deliveries older than
N days (and nothing newer, nothing of the rule's other kinds); an organisation's export holds
its data as JSON Lines, and its deletion leaves no row of it in any table of the metadata."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from netra.apps.all_in_one import create_app
from netra.auth.models import OAuthIdentity, PasswordReset
from netra.billing.models import Budget, BudgetAlert, WebhookDelivery, WebhookEvent
from netra.chat.models import RunEvent
from netra.core.db import utcnow
from netra.governance.org_data import NOT_ORG_DATA, unscoped_tables
from netra.governance.retention import purge_once
from netra.models import Base
from netra.usage.models import UsageRow
from support.accounts import bearer, signup
from support.members import add_member, invite
from support.realtime import Client, LiveServer, live_server

SETTINGS = {
    "requests_per_min_free": 100_000, "placeholder_pipeline": True,
    "placeholder_step_delay_s": 0.01, "webhook_max_attempts": 1, "retention_usage_days": 30,
    "retention_run_events_days": 7, "retention_webhooks_days": 7,
}  # fmt: skip


@pytest.fixture
async def srv(pg_settings: Any) -> AsyncIterator[LiveServer]:
    async with live_server(create_app(pg_settings(**SETTINGS))) as server:
        yield server


def _records(tag: str, days_ago: list[int]) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "records": [
            {"timestamp": (now - timedelta(days=d)).isoformat(), "provider": "openai",
             "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 100,
             "request_id": f"{tag}-{n}", "feature": "search", "prompt_hash": f"prompt-{n}"}
            for n, d in enumerate(days_ago)
        ]
    }  # fmt: skip


async def _poll(check: Any, wait_s: float = 20.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while not (got := await check()):
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)
    return got


async def _populate(client: httpx.AsyncClient, srv: LiveServer, name: str) -> dict[str, Any]:
    """An organisation with a row in every kind of table."""
    owner = await signup(client, org_name=name)
    token = owner["access_token"]
    who = bearer(token)
    org_id = owner["user"]["org_id"]
    member = await add_member(client, token, "member")
    await invite(client, token, "viewer")  # pending
    stored = await client.post(
        "/api/v1/usage", json=_records(org_id, [0, 1, 2, 60, 90]), headers=who
    )
    assert stored.json()["accepted"] == 5
    hook = await client.post(
        "/api/v1/webhooks", headers=who,
        json={"url": "http://127.0.0.1:9/hook", "events": ["analysis.completed"]},
    )  # fmt: skip
    assert hook.status_code == 201, hook.text
    assert (await client.post("/api/v1/analyses", json={}, headers=who)).status_code == 201
    key = await client.post(
        "/api/v1/api-keys", json={"name": "ci", "scopes": ["usage:write"]}, headers=who
    )
    assert key.status_code == 201, key.text
    budget = await client.post(
        "/api/v1/budgets", json={"scope": "org", "period": "month", "limit_usd": 100}, headers=who
    )
    assert budget.status_code == 201
    ws = await Client.connect(srv.ws_url, member["access_token"])
    try:
        ack = await ws.ask("where is the money going?", id_=f"{name}-frame")
        await ws.events_until_final(ack["run_id"])
    finally:
        await ws.close()
    runtime = srv.runtime
    async with runtime.db.unit_of_work() as session:
        # Rows the API makes only in other circumstances (an OIDC login, a crossed threshold).
        now = utcnow()
        session.add(OAuthIdentity(user_id=member["user"]["id"], provider="test",
                                  subject=f"sub-{org_id}", email=member["email"]))  # fmt: skip
        session.add(PasswordReset(org_id=org_id, user_id=member["user"]["id"],
                                  token_hash=uuid.uuid4().hex * 2,
                                  expires_at=now + timedelta(hours=1)))  # fmt: skip
        session.add(BudgetAlert(org_id=org_id, budget_id=budget.json()["id"], threshold=80,
                                window_start=now, window_end=now + timedelta(days=1),
                                spend_usd=81.0, limit_usd=100.0))  # fmt: skip

    async def delivered() -> bool:
        async with runtime.db.sessions() as session:
            n = await session.scalar(
                select(func.count()).select_from(WebhookDelivery)
                .where(WebhookDelivery.org_id == org_id, WebhookDelivery.status != "pending")
            )  # fmt: skip
        return bool(n)

    await _poll(delivered)
    return {"org_id": org_id, "owner": owner, "member": member, "run_id": ack["run_id"],
            "key": key.json()["key"]}  # fmt: skip


async def _count(srv: LiveServer, model: Any, *where: Any) -> int:
    async with srv.runtime.db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)))


async def test_retention_purges_only_what_is_older_than_its_days(srv: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
        org = await _populate(client, srv, "Purged")
    org_id, runtime = org["org_id"], srv.runtime
    old = utcnow() - timedelta(days=10)
    async with runtime.db.unit_of_work() as session:
        # Age the run's events and the webhook traffic past their 7 days (kept: usage 30 days).
        first_seq = RunEvent.seq <= 2
        await session.execute(
            update(RunEvent).where(RunEvent.run_id == org["run_id"], first_seq).values(ts=old)
        )
        await session.execute(
            update(WebhookEvent).where(WebhookEvent.org_id == org_id).values(created_at=old)
        )
    events_before = await _count(srv, RunEvent, RunEvent.run_id == org["run_id"])
    deleted = await purge_once(runtime.db, runtime.settings)
    assert deleted["usage_records"] >= 2 and deleted["run_events"] >= 2
    assert deleted["webhook_events"] >= 1 and deleted["webhook_deliveries"] >= 1
    assert await _count(srv, UsageRow, UsageRow.org_id == org_id) == 3  # 0, 1, 2 days old
    assert await _count(srv, RunEvent, RunEvent.run_id == org["run_id"]) == events_before - 2
    assert await _count(srv, WebhookEvent, WebhookEvent.org_id == org_id) == 0
    assert await _count(srv, WebhookDelivery, WebhookDelivery.org_id == org_id) == 0
    assert await _count(srv, Budget, Budget.org_id == org_id) == 1  # not a retention kind
    again = await purge_once(runtime.db, runtime.settings)
    assert again["usage_records"] == 0  # idempotent

    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
        summary = await client.get(
            "/api/v1/usage/summary", headers=bearer(org["owner"]["access_token"])
        )
    assert summary.status_code == 200
    assert sum(g["records"] for g in summary.json()["groups"]) == 3, "no stale cached summary"


def _rows_mentioning(rows: list[Any], needles: set[str]) -> list[Any]:
    found = []
    for row in rows:
        for value in row:
            text = json.dumps(value, default=str) if not isinstance(value, str) else value
            if any(n in text for n in needles):
                found.append(row)
                break
    return found


async def test_export_then_deletion_leaves_nothing_of_the_organisation(srv: LiveServer) -> None:
    assert unscoped_tables() == list(NOT_ORG_DATA), "every table is org data or says why not"
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
        doomed = await _populate(client, srv, "Doomed")
        kept = await _populate(client, srv, "Kept")
        owner = bearer(doomed["owner"]["access_token"])

        exported = await client.get("/api/v1/org/export", headers=owner)
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in exported.text.splitlines()]
        assert lines[0]["export"]["org_id"] == doomed["org_id"]
        tables: dict[str, list[dict[str, Any]]] = {}
        for line in lines[1:]:
            tables.setdefault(line["table"], []).append(line["row"])
        assert len(tables["usage_records"]) == 5 and len(tables["users"]) == 2
        # Every field of the organisation's records: a prompt's hash is its data, no credential.
        assert {r["prompt_hash"] for r in tables["usage_records"]} == {
            f"prompt-{n}" for n in range(5)
        }
        for name in ("organisations", "invitations", "chat_threads", "chat_messages", "chat_runs",
                     "chat_run_events", "analyses", "budgets", "budget_alerts", "webhooks",
                     "webhook_events", "webhook_deliveries", "refresh_families", "audit_events",
                     "oauth_identities", "chat_processed_frames", "api_keys",
                     "password_resets"):  # fmt: skip
            assert tables.get(name), f"export lacks {name}"
        flat = json.dumps(lines)
        assert "password_hash" not in flat and "token_hash" not in flat and "whsec_" not in flat
        assert doomed["key"] not in flat and "key_hash" not in flat
        assert kept["org_id"] not in flat

        member = bearer(doomed["member"]["access_token"])
        assert (await client.get("/api/v1/org/export", headers=member)).status_code == 403
        refused = await client.request("DELETE", "/api/v1/org", json={"confirm": "Doomed"},
                                       headers=member)  # fmt: skip
        assert refused.status_code == 403
        wrong = await client.request("DELETE", "/api/v1/org", json={"confirm": "doomed"},
                                     headers=owner)  # fmt: skip
        assert wrong.status_code == 422
        gone = await client.request("DELETE", "/api/v1/org", json={"confirm": "Doomed"},
                                    headers=owner)  # fmt: skip
        assert gone.status_code == 204
        assert (await client.get("/api/v1/members", headers=owner)).status_code == 401
        assert (await client.get("/api/v1/members", headers=member)).status_code == 401
        key = bearer(doomed["key"])
        assert (await client.post("/api/v1/usage", json=_records("late", [0]),
                                  headers=key)).status_code == 401  # fmt: skip

    user_ids = {doomed["owner"]["user"]["id"], doomed["member"]["user"]["id"]}
    async with srv.runtime.db.sessions() as session:
        for table in Base.metadata.sorted_tables:
            rows = list((await session.execute(select(table))).all())
            assert not _rows_mentioning(rows, {doomed["org_id"]}), table.name
            if table.name not in NOT_ORG_DATA:
                assert not _rows_mentioning(rows, user_ids), table.name
            if "org_id" in table.c:
                kept_rows = [r for r in rows if r._mapping["org_id"] == kept["org_id"]]
                if table.name not in ("usage_versions",):
                    # Not populated above: invitations, password-reset tokens.
                    assert kept_rows or table.name in ("invitations", "password_resets"), table.name
    assert await _count(srv, UsageRow, UsageRow.org_id == kept["org_id"]) == 5
