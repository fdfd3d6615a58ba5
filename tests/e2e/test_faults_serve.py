"""`netra serve` SIGKILLed mid-run and restarted: the run is executed again from its last step
by the restarted process, and the client (a protocol client, then the web UI in Chromium)
resumes it and ends with the complete answer once.

The embedded mode: SQLite and in-process queue, bus and worker, the real agent pipeline on
uploaded demo usage; the restarted process finds the run ``running`` with a stale heartbeat.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect

from support.accounts import bearer, signup_sync
from support.browser import ask, chromium, sign_up, upload
from support.faults import (
    AGENTS,
    QUESTION,
    STEP_DELAY_S,
    assistant_answers,
    check_complete_run,
    demo_usage,
    received,
    stored_events,
    wait_for_agent,
)
from support.faults import upload as upload_http
from support.realtime import Client
from support.servers import ServerProcess, start_server


def _serve_env(data_dir: Path) -> dict[str, str]:
    return {
        "NETRA_DATA_DIR": str(data_dir),
        "NETRA_TEST_STEP_DELAY_S": STEP_DELAY_S,
        "NETRA_RUN_HEARTBEAT_S": "0.5",
        "NETRA_RUN_STALE_AFTER_S": "2",
    }


def test_serve_killed_mid_run_restarted_the_client_resumes_the_complete_answer(
    tmp_path: Path,
) -> None:
    usage = demo_usage(tmp_path / "usage.csv")
    env = _serve_env(tmp_path / "netra")
    first = start_server("serve", env)
    second: ServerProcess | None = None
    try:
        account = signup_sync(first.url)
        token = account["access_token"]
        upload_http(first.url, token, usage)

        async def before() -> tuple[dict[str, Any], list[dict[str, Any]]]:
            client = await Client.connect(first.ws_url, token)
            ack = await client.ask(QUESTION)
            await wait_for_agent(client, ack["run_id"], "optimizer")
            first.kill()  # SIGKILL mid-step: no drain, no release, no final event
            return ack, received(client.frames, ack["run_id"])

        ack, seen = asyncio.run(before())
        second = start_server("serve", env, port=first.port)

        async def after() -> list[dict[str, Any]]:
            client = await Client.connect(second.ws_url, token)
            await client.send("resume", {"run_id": ack["run_id"], "after_seq": seen[-1]["seq"]})
            rest = await client.events_until_final(ack["run_id"], wait_s=90)
            await client.close()
            return rest

        events = seen + asyncio.run(after())
        check_complete_run(events)
        stored = stored_events(second.url, token, ack["run_id"])
        assert stored["events"] == events and stored["status"] == "succeeded"
        answers = assistant_answers(second.url, token, ack["thread_id"])
        assert [a["id"] for a in answers] == [events[-1]["payload"]["result"]["message_id"]]
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_serve_killed_mid_run_the_web_ui_reconnects_and_shows_the_answer_once(
    tmp_path: Path,
) -> None:
    usage = demo_usage(tmp_path / "usage.csv")
    env = _serve_env(tmp_path / "netra")
    first = start_server("serve", env)
    second: ServerProcess | None = None
    try:
        with chromium() as browser:
            page = browser.new_page()
            sign_up(page, first.url)
            upload(page, usage)
            ask(page, QUESTION)
            lines = page.locator(".events .ev")
            expect(lines.filter(has_text="data started")).to_have_count(1, timeout=60_000)
            first.kill()
            expect(page.locator("#conn-state")).to_contain_text("reconnecting", timeout=15_000)
            second = start_server("serve", env, port=first.port)
            # The page reconnects by itself, resumes the run, and shows one complete answer.
            answer = page.locator(".msg.assistant")
            expect(answer).to_have_count(1, timeout=120_000)
            expect(answer).to_contain_text("$")
            expect(page.locator("#conn-state")).to_have_text("live")
            texts = lines.all_text_contents()
            for agent in AGENTS:
                assert texts.count(f"{agent} started") == 1, (agent, texts)
                assert texts.count(f"{agent} succeeded") == 1, (agent, texts)
            # The page shows a line per seq it had not shown (strictly increasing): as many
            # lines as the final seq means 1..n, each once. The store agrees.
            summary = page.locator(".events summary").inner_text()
            assert summary == f"Agent activity ({len(texts)} events)", summary
            token = page.evaluate("sessionStorage.getItem('netra.access')")
            threads = httpx.get(f"{second.url}/api/v1/threads", headers=bearer(token)).json()
            (thread,) = threads["threads"]
            (answer_row,) = assistant_answers(second.url, token, thread["id"])
            stored = stored_events(second.url, token, answer_row["run_id"])
            assert len(stored["events"]) == len(texts) and stored["status"] == "succeeded"
    finally:
        first.stop()
        if second is not None:
            second.stop()
