"""What the usage component lends the agent pipeline through ``Runtime.services``: the record
loader and the report store, scoped to the organisation they are given."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from netra.agents.contract import RECORD_LOADER, REPORT_STORE
from netra.apps.all_in_one import create_app
from netra.apps.factory import create_netra_app
from netra.reports.component import services_component
from netra.reports.models import StoredAnalysis
from support.accounts import bearer, signup
from support.apps import running_app


def rec(i: int, day: int) -> dict[str, object]:
    return {
        "timestamp": f"2026-10-{day:02d}T{i:02d}:00:00Z",
        "provider": "anthropic",
        "model": "claude-sonnet-4-5",
        "input_tokens": 100 + i,
        "output_tokens": 5,
        "request_id": f"x-{day}-{i}",
    }


async def test_record_loader_and_report_store(pg_settings) -> None:  # type: ignore[no-untyped-def]
    settings = pg_settings()
    app = create_app(settings)
    async with running_app(app) as client:
        alice = bearer((await signup(client))["access_token"])
        bob = bearer((await signup(client))["access_token"])
        org = (await client.get("/auth/me", headers=alice)).json()["org_id"]
        batch = [rec(i, day) for day in (1, 2, 3) for i in range(4)]
        await client.post("/api/v1/usage", json={"records": batch}, headers=alice)
        await client.post("/api/v1/usage", json={"records": [rec(0, 2)]}, headers=bob)

        load = app.state.runtime.services[RECORD_LOADER]
        everything = await load(org, None, None, 100)
        assert len(everything) == 12
        assert [r.timestamp for r in everything] == sorted(r.timestamp for r in everything)
        day2 = await load(
            org, datetime(2026, 10, 2, tzinfo=UTC), datetime(2026, 10, 3, tzinfo=UTC), 100
        )
        assert {r.request_id for r in day2} == {f"x-2-{i}" for i in range(4)}
        latest = await load(org, None, None, 3)  # the most recent three, oldest first
        assert [r.request_id for r in latest] == ["x-3-1", "x-3-2", "x-3-3"]

        store = app.state.runtime.services[REPORT_STORE]
        report_id = await store(org, {"period": {"start": None, "end": None}, "records": 12}, "r1")
        mine = await client.get(f"/api/v1/analyses/{report_id}", headers=alice)
        assert mine.status_code == 200 and mine.json()["records"] == 12
        # The same run's step executed again (its worker died before journaling it): the
        # report stored the first time is returned, not stored twice.
        again = await store(org, {"period": {"start": None, "end": None}, "records": 99}, "r1")
        assert again == report_id
        stored = await app.state.runtime.db.run(
            lambda s: s.scalars(select(StoredAnalysis.id).where(StoredAnalysis.org_id == org))
        )
        assert list(stored) == [report_id]
        assert (await client.get(f"/api/v1/analyses/{report_id}", headers=alice)).json()[
            "records"
        ] == 12
        other_run = await store(org, {"period": {"start": None, "end": None}, "records": 1}, "r2")
        assert other_run != report_id
        theirs = await client.get(f"/api/v1/analyses/{report_id}", headers=bob)
        assert theirs.status_code == 404

    # The worker process gets the same services without any usage route.
    worker = create_netra_app(settings, [services_component()], title="worker")
    async with running_app(worker) as client:
        assert (await client.post("/api/v1/usage", json={"records": []})).status_code == 404
        loaded = await worker.state.runtime.services[RECORD_LOADER](org, None, None, 5)
        assert len(loaded) == 5
