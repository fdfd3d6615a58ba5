"""I5: an agent run's messages, events and report are stored in PostgreSQL and readable after a
restart (a new app, a new runtime, the same database)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from netra.agents import component as agents
from netra.apps.factory import create_netra_app
from netra.auth.component import verification_component
from netra.chat import component as chat
from netra.chat import tasks as chat_tasks
from netra.demo.workload import generate, write
from netra.reports import component as reports
from netra.usage import component as usage
from support.agent_fakes import check_protocol
from support.realtime import Client, live_server, mint_token


def _app(settings: Any) -> Any:
    return create_netra_app(
        settings,
        [
            verification_component(),
            usage.component(),
            reports.component(),
            chat.component(),
            agents.component(),
        ],
        tasks=[chat_tasks.run_worker()],
        title="agents-persistence-test",
    )


async def test_run_is_stored_and_readable_after_a_restart(pg_settings: Any, tmp_path: Path) -> None:
    frame, labels = generate(1500, 5)
    demo = write(frame, labels, tmp_path / "demo.csv")  # labels path; the CSV is beside it
    csv = (tmp_path / "demo.csv").read_bytes()
    assert demo.exists() and csv
    settings = pg_settings(data_dir=tmp_path / "data")
    org_id, user_id = uuid.uuid4().hex, uuid.uuid4().hex

    async with live_server(_app(settings)) as srv:
        token = mint_token(srv, org_id=org_id, user_id=user_id, tier="early")
        auth = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=srv.url, headers=auth, timeout=60) as http:
            up = await http.post("/api/v1/usage/upload", files={"file": ("d.csv", csv)})
            assert up.status_code == 200, up.text
            assert up.json()["accepted"] == 1500
        client = await Client.connect(srv.ws_url, token)
        ack = await client.ask("how do I cut our LLM costs?")
        live = await client.events_until_final(ack["run_id"], wait_s=60)
        await client.close()
    final = live[-1]["payload"]
    assert final["status"] == "succeeded", final
    check_protocol([(e["type"], e["payload"]) for e in live])

    # A restart: a new app and runtime on the same PostgreSQL database.
    async with live_server(_app(settings)) as srv2:
        token = mint_token(srv2, org_id=org_id, user_id=user_id, tier="early")
        auth = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=srv2.url, headers=auth, timeout=60) as http:
            stored = await http.get(f"/api/v1/runs/{ack['run_id']}/events?after_seq=0")
            assert stored.status_code == 200, stored.text
            body = stored.json()
            events = body["events"] if isinstance(body, dict) else body
            assert [(e["seq"], e["type"], e["payload"]) for e in events] == [
                (e["seq"], e["type"], e["payload"]) for e in live
            ]
            msgs = (await http.get(f"/api/v1/threads/{ack['thread_id']}/messages")).json()
            items = msgs["messages"]
            assert [m["role"] for m in items] == ["user", "assistant"]
            assert items[0]["text"] == "how do I cut our LLM costs?"
            assert items[1]["text"] == final["result"]["text"]
            assert items[1]["id"] == final["result"]["message_id"]
            report = await http.get(f"/api/v1/analyses/{final['result']['report_id']}")
            assert report.status_code == 200, report.text
            assert report.json()["records"] == 1500
            assert report.json()["findings"]

            # Another organisation sees none of it.
            other = mint_token(srv2, tier="early")
            other_auth = {"Authorization": f"Bearer {other}"}
            for path in (
                f"/api/v1/runs/{ack['run_id']}/events?after_seq=0",
                f"/api/v1/analyses/{final['result']['report_id']}",
            ):
                assert (await http.get(path, headers=other_auth)).status_code == 404, path
