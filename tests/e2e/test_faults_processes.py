"""Processes die mid-run: a worker (SIGKILL) and an API replica (SIGKILL).

Real processes (auth service, API replicas, workers) on PostgreSQL and a Redis server this test
starts, running the real agent pipeline on uploaded demo usage. Each fault lands while a
sub-agent is mid-step (``NETRA_TEST_STEP_DELAY_S``). Nothing may be lost: the client ends with
seq 1..n exactly once, the supervisor's one succeeded answer, and one assistant message.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from support.faults import (
    QUESTION,
    assistant_answers,
    check_complete_run,
    received,
    scaled_stack,
    stored_events,
    wait_for_agent,
)
from support.realtime import Client
from support.servers import start_server


def test_worker_killed_mid_run_the_run_completes_on_another_worker(tmp_path: Path) -> None:
    with scaled_stack(tmp_path, "api", "worker") as stack:
        (api, doomed), token, env = stack.servers, stack.token, stack.env

        async def scenario() -> tuple[dict[str, Any], list[dict[str, Any]]]:
            client = await Client.connect(api.ws_url, token)
            ack = await client.ask(QUESTION)
            await wait_for_agent(client, ack["run_id"], "data")  # mid-step
            doomed.kill()  # SIGKILL: no release, no final event from it
            heir = start_server("worker", env)
            try:
                await client.events_until_final(ack["run_id"], wait_s=90)
            finally:
                heir.stop()
            await client.close()
            return ack, received(client.frames, ack["run_id"])

        ack, events = asyncio.run(scenario())
        check_complete_run(events)  # seq 1..n once: nothing re-emitted, nothing missing
        stored = stored_events(api.url, token, ack["run_id"])
        assert stored["events"] == events and stored["status"] == "succeeded"
        answers = assistant_answers(api.url, token, ack["thread_id"])
        assert [a["id"] for a in answers] == [events[-1]["payload"]["result"]["message_id"]]


def test_api_replica_killed_mid_run_the_client_resumes_on_the_other(tmp_path: Path) -> None:
    with scaled_stack(tmp_path, "api", "api", "worker") as stack:
        (a, b, _worker), token = stack.servers, stack.token

        async def scenario() -> tuple[dict[str, Any], list[dict[str, Any]]]:
            on_a = await Client.connect(a.ws_url, token)
            ack = await on_a.ask(QUESTION)
            await wait_for_agent(on_a, ack["run_id"], "optimizer")
            a.kill()  # the replica dies with the socket: no close frame
            seen = received(on_a.frames, ack["run_id"])
            on_b = await Client.connect(b.ws_url, token)
            await on_b.send("resume", {"run_id": ack["run_id"], "after_seq": seen[-1]["seq"]})
            rest = await on_b.events_until_final(ack["run_id"], wait_s=60)
            await on_b.close()
            return ack, seen + rest

        ack, events = asyncio.run(scenario())
        check_complete_run(events)
        stored = stored_events(b.url, token, ack["run_id"])
        assert stored["events"] == events
        assert len(assistant_answers(b.url, token, ack["thread_id"])) == 1


def test_worker_stopped_mid_run_releases_it_and_another_worker_finishes_it(
    tmp_path: Path,
) -> None:
    """Graceful shutdown (SIGTERM): the run that does not finish within the drain time is
    released to the queue, not failed; another worker resumes it from its last step."""
    with scaled_stack(tmp_path, "api", "worker", NETRA_WORKER_DRAIN_S="0.5") as stack:
        (api, stopping), token, env = stack.servers, stack.token, stack.env

        async def scenario() -> tuple[dict[str, Any], list[dict[str, Any]]]:
            client = await Client.connect(api.ws_url, token)
            ack = await client.ask(QUESTION)
            await wait_for_agent(client, ack["run_id"], "data")
            loop = asyncio.get_running_loop()
            started = loop.time()
            await loop.run_in_executor(None, stopping.stop)  # SIGTERM, waits for the exit
            assert stopping.proc.returncode in (0, -15)  # uvicorn re-raises SIGTERM
            assert loop.time() - started < 10  # drain 0.5 s + start-up of nothing new
            assert "released a run to the queue" in stopping.log()
            heir = start_server("worker", env)
            try:
                await client.events_until_final(ack["run_id"], wait_s=90)
            finally:
                heir.stop()
            await client.close()
            return ack, received(client.frames, ack["run_id"])

        ack, events = asyncio.run(scenario())
        check_complete_run(events)
        assert stored_events(api.url, token, ack["run_id"])["events"] == events
        assert len(assistant_answers(api.url, token, ack["thread_id"])) == 1
