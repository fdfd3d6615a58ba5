"""Webhooks fire from the paths that produce them: a finished run and a stored analysis."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from netra.apps.all_in_one import create_app
from support.accounts import bearer, signup
from support.realtime import Client, live_server
from support.webhook_receiver import webhook_receiver


def _record(**fields: Any) -> dict[str, Any]:
    return {
        "timestamp": datetime.now(UTC).isoformat(),
        "provider": "openai",
        "model": "gpt-4o",
        "input_tokens": 1200,
        "output_tokens": 300,
        **fields,
    }


async def test_run_and_analysis_completion_are_delivered_signed(pg_settings: Any) -> None:
    settings = pg_settings(webhook_retry_base_s=0.05, webhook_retry_max_s=0.1)
    with webhook_receiver() as receiver:
        async with live_server(create_app(settings)) as srv:
            import httpx

            async with httpx.AsyncClient(base_url=srv.url) as http:
                account = await signup(http)
                auth = bearer(account["access_token"])
                hook = await http.post(
                    "/api/v1/webhooks",
                    json={"url": receiver.url, "events": ["run.completed", "analysis.completed"]},
                    headers=auth,
                )
                assert hook.status_code == 201, hook.text
                receiver.secret = hook.json()["secret"]
                stored = await http.post(
                    "/api/v1/usage", json={"records": [_record(), _record()]}, headers=auth
                )
                assert stored.json()["accepted"] == 2
                analysis = await http.post("/api/v1/analyses", json={}, headers=auth)
                assert analysis.status_code == 201

                client = await Client.connect(srv.ws_url, account["access_token"])
                try:
                    ack = await client.ask("where is my money going?")
                    run_id = ack["run_id"]
                    events = await client.events_until_final(run_id, wait_s=30)
                finally:
                    await client.close()
                assert events[-1]["payload"]["status"] == "succeeded"

                # The POSTed analysis, the report the agents stored, and the finished run.
                delivered = await receiver.wait_for(3)
                assert all(r.signature_ok for r in delivered)
                bodies = [r.json() for r in delivered]
                analyses = [b["data"] for b in bodies if b["type"] == "analysis.completed"]
                assert analysis.json()["id"] in [a["analysis_id"] for a in analyses]
                assert len(analyses) == 2
                [run] = [b["data"] for b in bodies if b["type"] == "run.completed"]
                assert run == {
                    "run_id": run_id,
                    "thread_id": ack["thread_id"],
                    "status": "succeeded",
                }
