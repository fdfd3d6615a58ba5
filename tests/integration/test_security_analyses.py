"""Finding 6 on PostgreSQL and Redis: POST /api/v1/analyses is rated per organisation, capped in
records by the tier, and asking again while nothing changed stores no new report and emits no
new webhook event."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from netra.apps.all_in_one import create_app
from netra.billing.models import WebhookEvent
from netra.reports.models import StoredAnalysis
from support.accounts import bearer, signup
from support.apps import running_app


def _csv(n: int, prefix: str, day: str = "2026-10-07") -> bytes:
    rows = "".join(
        f"{day}T00:00:{i % 60:02d}Z,openai,gpt-4o,100,10,{prefix}-{i}\n" for i in range(n)
    )
    return ("timestamp,provider,model,input_tokens,output_tokens,request_id\n" + rows).encode()


async def _count(app: Any, model: Any, org_id: str) -> int:
    async def read(session: Any) -> int:
        stmt = select(func.count()).select_from(model).where(model.org_id == org_id)
        return int(await session.scalar(stmt) or 0)

    return int(await app.state.runtime.db.run(read))


async def test_repeated_analyses_reuse_the_stored_report(pg_settings) -> None:  # type: ignore[no-untyped-def]
    app = create_app(pg_settings(embedded_workers=False, analyses_per_min_free=100))
    async with running_app(app) as client:
        account = await signup(client)
        auth, org_id = bearer(account["access_token"]), account["user"]["org_id"]
        hook = await client.post(
            "/api/v1/webhooks",
            json={"url": "http://127.0.0.1:9/hook", "events": ["analysis.completed"]},
            headers=auth,
        )
        assert hook.status_code == 201
        upload = {**auth, "Content-Type": "text/csv"}
        await client.post("/api/v1/usage/upload", content=_csv(20, "a"), headers=upload)
        ids = set()
        for _ in range(5):  # an attacker's loop
            answer = await client.post("/api/v1/analyses", json={}, headers=auth)
            assert answer.status_code == 201
            ids.add(answer.json()["id"])
        assert len(ids) == 1
        assert await _count(app, StoredAnalysis, org_id) == 1
        assert await _count(app, WebhookEvent, org_id) == 1
        # Another period is another analysis; new data is a new one too.
        other = await client.post(
            "/api/v1/analyses", json={"start": "2026-10-01T00:00:00Z"}, headers=auth
        )
        assert other.json()["id"] not in ids
        await client.post("/api/v1/usage/upload", content=_csv(5, "b"), headers=upload)
        fresh = await client.post("/api/v1/analyses", json={}, headers=auth)
        assert fresh.json()["id"] not in ids and fresh.json()["records"] == 25
        assert await _count(app, StoredAnalysis, org_id) == 3


async def test_the_analyses_rate_and_the_record_cap_of_the_tier(pg_settings) -> None:  # type: ignore[no-untyped-def]
    settings = pg_settings(embedded_workers=False, analyses_per_min_free=3, max_records_free=50)
    async with running_app(create_app(settings)) as client:
        auth = bearer((await signup(client))["access_token"])
        upload = {**auth, "Content-Type": "text/csv"}
        await client.post(
            "/api/v1/usage/upload", content=_csv(40, "x", "2026-10-07"), headers=upload
        )
        await client.post(
            "/api/v1/usage/upload", content=_csv(40, "y", "2026-10-08"), headers=upload
        )
        over = await client.post("/api/v1/analyses", json={}, headers=auth)
        assert over.status_code == 403
        assert over.json()["error"]["details"] == {"records": 80, "limit": 50, "tier": "free"}
        one_day = {"start": "2026-10-08T00:00:00Z", "end": "2026-10-09T00:00:00Z"}
        fits = await client.post("/api/v1/analyses", json=one_day, headers=auth)
        assert fits.status_code == 201 and fits.json()["records"] == 40
        third = await client.post(
            "/api/v1/analyses", json={"start": "2026-10-08T00:00:00Z"}, headers=auth
        )
        assert third.status_code == 201
        limited = await client.post("/api/v1/analyses", json=one_day, headers=auth)
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # Another organisation is not slowed by this one.
        other = bearer((await signup(client))["access_token"])
        assert (await client.post("/api/v1/analyses", json={}, headers=other)).status_code == 201
