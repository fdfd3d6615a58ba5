"""E4 without a browser: a new user signs up, uploads ``netra demo-data`` output, asks over the
WebSocket where the money goes, and gets an answer whose dollar figures are the engine's (equal
to ``POST /api/v1/analyses`` on the same data), with the report stored and readable."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from netra.agents.money import dollar_figures, usd
from support.accounts import signup_sync
from support.agent_fakes import check_protocol
from support.servers import server

ASK = "where is my money going and how do I cut it?"


def _demo_file(tmp_path: Path) -> Path:
    out = tmp_path / "demo.csv"
    args = ["demo-data", "--records", "4000", "--seed", "11", "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "netra", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return out


def _report_figures(report: dict[str, Any]) -> set[str]:
    """Every dollar figure the stored analysis report justifies."""
    values = [
        report["total_cost_usd"],
        report["projected_savings_usd"],
        report["forecast"]["monthly_run_rate_usd"],
    ]
    for f in report["findings"]:
        values += [f["current_cost_usd"], f["projected_cost_usd"], f["savings_usd"]]
    for rows in report["breakdown"].values():
        values += [r["cost_usd"] for r in rows if r["cost_usd"] is not None]  # None: unpriced
    return {usd(v) for v in values}


async def _ask(ws_url: str, token: str, text: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Send one user_message; the ack and every run event up to the supervisor's last."""
    headers = {"Authorization": f"Bearer {token}"}
    async with connect(ws_url, additional_headers=headers, open_timeout=10) as ws:
        hello = json.loads(await ws.recv(decode=True))
        assert hello["type"] == "connection_established"
        assert hello["payload"]["protocol"] == "netra.v1"
        frame_id = uuid.uuid4().hex  # user_message is idempotent on its id
        await ws.send(
            json.dumps({"type": "user_message", "id": frame_id, "payload": {"text": text}})
        )
        ack: dict[str, Any] | None = None
        events: list[dict[str, Any]] = []
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(decode=True), 120))
            if frame["type"] == "ack":
                ack = frame["payload"]
                continue
            assert frame["type"] != "error", frame
            if "seq" not in frame:
                continue
            events.append(frame)
            p = frame["payload"]
            if frame["type"] == "agent_completed" and p["agent"] == "supervisor":
                break
        assert ack is not None
        return ack, events


async def test_first_value_journey(tmp_path: Path) -> None:
    demo = _demo_file(tmp_path)
    with server("serve", {"NETRA_DATA_DIR": str(tmp_path / "data")}) as srv:
        account = signup_sync(srv.url)
        auth = {"Authorization": f"Bearer {account['access_token']}"}
        async with httpx.AsyncClient(base_url=srv.url, headers=auth, timeout=120) as http:
            files = {"file": ("demo.csv", demo.read_bytes(), "text/csv")}
            up = await http.post("/api/v1/usage/upload", files=files)
            assert up.status_code == 200, up.text
            assert up.json()["accepted"] == 4000 and up.json()["rejected"] == []
            analysis = await http.post("/api/v1/analyses", json={})
            assert analysis.status_code == 201, analysis.text
            expected = analysis.json()

            ack, events = await _ask(srv.ws_url, account["access_token"], ASK)

            # Protocol: seq 1..n without gaps, ordering guarantees, every agent in turn.
            assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
            assert {e["run_id"] for e in events} == {ack["run_id"]}
            check_protocol([(e["type"], e["payload"]) for e in events])
            started = [e["payload"]["agent"] for e in events if e["type"] == "agent_started"]
            assert started == ["supervisor", "triage", "data", "optimizer", "actions", "reporting"]
            final = events[-1]["payload"]
            assert final["status"] == "succeeded", final
            answer = final["result"]["text"]

            # The answer's dollars are the engine's, as POST /api/v1/analyses computed them.
            assert expected["findings"], "the demo data has injected waste"
            assert usd(expected["total_cost_usd"]) in answer
            assert usd(expected["projected_savings_usd"]) in answer
            assert set(dollar_figures(answer)) <= _report_figures(expected)
            top = sorted(expected["findings"], key=lambda f: -f["savings_usd"])[:3]
            for finding in top:
                assert usd(finding["savings_usd"]) in answer, finding["title"]
                assert str(finding["scope"].get("feature", "")) in answer
                assert str(finding["scope"].get("model", "")) in answer

            # The report the run stored is readable and is the same analysis.
            stored = await http.get(f"/api/v1/analyses/{final['result']['report_id']}")
            assert stored.status_code == 200, stored.text
            assert stored.json()["total_cost_usd"] == expected["total_cost_usd"]
            assert stored.json()["projected_savings_usd"] == expected["projected_savings_usd"]

            # Both messages are in the thread.
            messages = await http.get(f"/api/v1/threads/{ack['thread_id']}/messages")
            assert messages.status_code == 200, messages.text
            body = messages.json()
            items = body["messages"] if isinstance(body, dict) else body
            texts = [m.get("text") or m.get("content") for m in items]
            assert ASK in texts and answer in texts
