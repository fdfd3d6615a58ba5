"""What an ingest and an analysis set off in billing: budgets are checked after new usage
(80 % / 100 % alerts), and a stored analysis is announced to ``analysis.completed`` webhooks."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from netra.apps.all_in_one import create_app
from support.accounts import bearer, signup
from support.apps import running_app


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A real HTTP receiver on loopback that keeps every JSON body it is sent."""
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", got
    server.shutdown()
    server.server_close()


def now_iso() -> str:
    """This moment: the budget's "month" is the current one, whatever the date the suite runs."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def records(tag: str, n: int, cost: float) -> dict[str, Any]:
    return {
        "records": [
            {
                "timestamp": now_iso(),
                "provider": "openai",
                "model": "gpt-4o",
                "input_tokens": 100,
                "output_tokens": 10,
                "cost_usd": cost,
                "feature": "budgeted",
                "request_id": f"{tag}-{i}",
            }
            for i in range(n)
        ]
    }


async def eventually(check: Any, timeout_s: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.1)


async def test_ingest_checks_budgets_and_analyses_reach_webhooks(
    pg_settings, receiver: tuple[str, list[dict[str, Any]]]
) -> None:  # type: ignore[no-untyped-def]
    url, got = receiver
    async with running_app(create_app(pg_settings())) as client:
        who = bearer((await signup(client))["access_token"])
        budget = await client.post(
            "/api/v1/budgets",
            json={"scope": "feature:budgeted", "period": "month", "limit_usd": 10},
            headers=who,
        )
        assert budget.status_code == 201, budget.text
        hook = await client.post(
            "/api/v1/webhooks", json={"url": url, "events": ["analysis.completed"]}, headers=who
        )
        assert hook.status_code == 201, hook.text

        async def alerted() -> list[int]:
            listed = (await client.get("/api/v1/budgets", headers=who)).json()["budgets"]
            return list(listed[0]["alerted_thresholds"])

        # $8.50 of $10: the 80 % threshold is crossed by this ingest alone.
        await client.post("/api/v1/usage", json=records("first", 17, 0.5), headers=who)
        assert await eventually(alerted) == [80]
        # $12.50: 100 % crossed, through the upload path this time.
        lines = "timestamp,provider,model,input_tokens,output_tokens,cost_usd,feature\n"
        lines += f"{now_iso()},openai,gpt-4o,100,10,4.0,budgeted\n"
        up = await client.post(
            "/api/v1/usage/upload", files={"file": ("more.csv", lines.encode())}, headers=who
        )
        assert up.json()["accepted"] == 1
        assert await eventually(lambda: _has(alerted, 100)) is True

        created = await client.post("/api/v1/analyses", json={}, headers=who)
        assert created.status_code == 201

        async def delivered() -> list[dict[str, Any]]:
            return [body for body in got if body.get("type") == "analysis.completed"]

        bodies = await eventually(delivered)
        assert len(bodies) == 1
        data = bodies[0]["data"]
        assert data["analysis_id"] == created.json()["id"]
        assert data["records"] == 18 and data["total_cost_usd"] == pytest.approx(12.5)
        fetched = await client.get(f"/api/v1/analyses/{data['analysis_id']}", headers=who)
        assert fetched.status_code == 200


async def _has(alerted: Any, threshold: int) -> bool:
    return threshold in await alerted()
