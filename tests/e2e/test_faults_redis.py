"""Redis fails mid-run: killed and restarted (empty), or frozen (SIGSTOP) for 10 s.

Auth service, API and worker as real processes on PostgreSQL and a Redis server this test
starts; the real agent pipeline on uploaded demo usage. Events are stored in PostgreSQL before
they are published, so nothing may be lost: after ``resume`` the client holds every event of
the run exactly once (a copy the resume overlap re-sends is the identical stored event, dropped
by seq as the protocol says), and one answer.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from support.accounts import bearer
from support.faults import (
    QUESTION,
    as_client_keeps_them,
    assistant_answers,
    check_complete_run,
    received,
    scaled_stack,
    stored_events,
    wait_for_agent,
)
from support.realtime import Client, is_final


async def _until_final_with_resume(client: Client, run_id: str, wait_s: float) -> None:
    """Ask the server for everything after the last contiguous seq held, then receive to the
    final event (live events and the replay overlap: each must still arrive once)."""
    held = received(client.frames, run_id)
    last = 0
    for frame in held:
        if frame["seq"] == last + 1:
            last = frame["seq"]
    if any(is_final(f) for f in held):
        return
    await client.send("resume", {"run_id": run_id, "after_seq": last})
    await client.events_until_final(run_id, wait_s=wait_s)


def _stored_count(api_url: str, token: str, run_id: str) -> int:
    return len(stored_events(api_url, token, run_id)["events"])


def test_redis_killed_mid_run_and_restarted_every_event_once_after_resume(
    tmp_path: Path,
) -> None:
    with scaled_stack(tmp_path, "api", "worker") as stack:
        (api, _worker), token, redis = stack.servers, stack.token, stack.redis

        async def scenario() -> tuple[dict[str, Any], list[dict[str, Any]]]:
            client = await Client.connect(api.ws_url, token)
            ack = await client.ask(QUESTION)
            run_id = ack["run_id"]
            await wait_for_agent(client, run_id, "data")
            redis.kill()
            # The run goes on without Redis: its events keep being stored.
            at_kill = _stored_count(api.url, token, run_id)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while _stored_count(api.url, token, run_id) <= at_kill + 2:
                assert loop.time() < deadline, "the run stopped while Redis was down"
                await asyncio.sleep(0.2)
            redis.start()  # same port, empty: no stream, no group, no subscriptions
            await _until_final_with_resume(client, run_id, wait_s=90)
            await client.close()
            return ack, as_client_keeps_them(received(client.frames, run_id))

        ack, events = asyncio.run(scenario())
        check_complete_run(events)  # every event exactly once, in order
        assert stored_events(api.url, token, ack["run_id"])["events"] == events
        assert len(assistant_answers(api.url, token, ack["thread_id"])) == 1
        # Readiness is back to ok once Redis is (the processes reconnected by themselves).
        deadline = time.monotonic() + 30
        while httpx.get(f"{api.url}/health/ready").json()["status"] != "ok":
            assert time.monotonic() < deadline, httpx.get(f"{api.url}/health/ready").text
            time.sleep(0.2)


def test_redis_frozen_10s_api_answers_degraded_nothing_lost(tmp_path: Path) -> None:
    with scaled_stack(tmp_path, "api", "worker") as stack:
        (api, _worker), token, redis = stack.servers, stack.token, stack.redis

        async def scenario() -> tuple[dict[str, Any], list[dict[str, Any]]]:
            client = await Client.connect(api.ws_url, token)
            ack = await client.ask(QUESTION)
            run_id = ack["run_id"]
            await wait_for_agent(client, run_id, "data")
            redis.freeze()
            frozen_at = time.monotonic()
            try:
                async with httpx.AsyncClient(base_url=api.url, timeout=8) as http:
                    ready = await http.get("/health/ready")
                    assert ready.status_code == 200, ready.text
                    body = ready.json()
                    assert body["status"] == "degraded", body
                    assert body["dependencies"]["redis"]["status"] == "down"
                    assert body["dependencies"]["database"]["status"] == "up"
                    threads = await http.get("/api/v1/threads", headers=bearer(token))
                    assert threads.status_code == 200, threads.text
                    replay = await http.get(f"/api/v1/runs/{run_id}/events", headers=bearer(token))
                    assert replay.status_code == 200 and replay.json()["events"]
                assert time.monotonic() - frozen_at < 10, "answers took the freeze"
                await asyncio.sleep(max(0.0, 10 - (time.monotonic() - frozen_at)))
            finally:
                redis.thaw()
            await _until_final_with_resume(client, run_id, wait_s=90)
            await client.close()
            return ack, as_client_keeps_them(received(client.frames, run_id))

        ack, events = asyncio.run(scenario())
        check_complete_run(events)
        assert stored_events(api.url, token, ack["run_id"])["events"] == events
        assert len(assistant_answers(api.url, token, ack["thread_id"])) == 1
