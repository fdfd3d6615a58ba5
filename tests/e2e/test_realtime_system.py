"""E5 / E3 / E2 / I8: the realtime path across real processes on PostgreSQL and Redis.

- E5: auth service, two API replicas and a worker as separate processes. A client signs in at
  the auth service, asks on replica A, has its connection cut mid-run, reconnects to replica B,
  resumes, and ends with every event of the run exactly once, in order.
- A worker killed (SIGKILL) mid-run: another worker takes the run over and ends it ``failed``;
  the client sees the final ``agent_completed``.
- ``netra serve`` embedded: two users at once, each sees only their own run's events.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed

from support.accounts import signup_sync
from support.realtime import Client, is_final
from support.servers import processes as _processes
from support.servers import start_server
from support.services import fresh_postgres_database, new_redis_prefix, redis_server_url

TYPES = ("agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed")


def _scaled_env(tmp_path: Path, pg_url: str, **extra: str) -> dict[str, str]:
    env = {
        "NETRA_DATA_DIR": str(tmp_path),
        "NETRA_DATABASE_URL": pg_url,
        "NETRA_REDIS_URL": redis_server_url(),
        "NETRA_REDIS_PREFIX": new_redis_prefix(),
        # One shared signing secret: the auth service signs, the API replicas verify.
        "NETRA_JWT_ALGORITHM": "HS256",
        "NETRA_JWT_SECRET": secrets.token_urlsafe(48),
        "NETRA_PLACEHOLDER_PIPELINE": "true",
        "NETRA_RUN_HEARTBEAT_S": "0.5",
        "NETRA_RUN_STALE_AFTER_S": "2",
    }
    env.update(extra)
    return env


def _check_run(events: list[dict[str, Any]]) -> None:
    """Every event once, in order, and the ordering guarantees of PROTOCOL.md."""
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), events
    assert events[0]["type"] == "agent_started" and events[0]["payload"]["agent"] == "supervisor"
    assert is_final(events[-1]) and sum(is_final(e) for e in events) == 1
    calls = [e["payload"]["tool_call_id"] for e in events if e["type"] == "tool_executing"]
    done = [e["payload"]["tool_call_id"] for e in events if e["type"] == "tool_completed"]
    assert sorted(calls) == sorted(done) and len(set(done)) == len(done)


def test_e5_cut_on_replica_a_resume_on_replica_b(tmp_path: Path) -> None:
    with fresh_postgres_database() as pg_url:
        env = _scaled_env(tmp_path, pg_url, NETRA_PLACEHOLDER_STEP_DELAY_S="0.4")
        with _processes(env, "auth-service", "api", "api", "worker") as (auth, a, b, _worker):
            account = signup_sync(auth.url)
            token = account["access_token"]

            async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any]]:
                on_a = await Client.connect(a.ws_url, token)
                ack = await on_a.ask("where does the money go?", id_="e5-question")
                first = await on_a.recv_type("agent_started")
                second = await on_a.recv(wait_s=10)
                # The connection is cut (no close handshake) while the run goes on.
                on_a.ws.transport.abort()
                on_b = await Client.connect(b.ws_url, token)
                resumed_at = datetime.now(UTC)
                await on_b.send("resume", {"run_id": ack["run_id"], "after_seq": second["seq"]})
                rest = await on_b.events_until_final(ack["run_id"])
                await on_b.close()
                # Everything the client received for this run, on both connections.
                received = [
                    f for f in on_a.frames + on_b.frames if f.get("run_id") == ack["run_id"]
                ]
                assert received == [first, second, *rest]
                # The run was still going when the client switched replicas.
                assert datetime.fromisoformat(rest[-1]["ts"]) > resumed_at
                return received, ack

            received, ack = asyncio.run(scenario())
            _check_run(received)
            assert [e["type"] for e in received] == list(TYPES)
            assert received[-1]["payload"]["status"] == "succeeded"
            # The store (read through replica B) holds exactly what the client saw.
            stored = httpx.get(
                f"{b.url}/api/v1/runs/{ack['run_id']}/events",
                headers={"Authorization": f"Bearer {token}"},
            ).json()
            assert stored["events"] == received and stored["status"] == "succeeded"
            # Logout at the auth service closes the user's sockets on both replicas (4401).
            assert asyncio.run(_logout_closes_everywhere(auth.url, [a.ws_url, b.ws_url], token))


async def _logout_closes_everywhere(auth_url: str, ws_urls: list[str], token: str) -> bool:
    clients = [await Client.connect(url, token) for url in ws_urls]
    async with httpx.AsyncClient(base_url=auth_url) as http:
        loop = asyncio.get_running_loop()
        started = loop.time()
        response = await http.post("/auth/logout", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 204, response.text
    for client in clients:
        try:
            while True:
                await client.recv(wait_s=3)
        except ConnectionClosed as exc:
            assert exc.rcvd is not None and exc.rcvd.code == 4401
    assert loop.time() - started < 2
    return True


def test_a_worker_killed_mid_run_leaves_no_run_hanging(tmp_path: Path) -> None:
    with fresh_postgres_database() as pg_url:
        env = _scaled_env(tmp_path, pg_url, NETRA_PLACEHOLDER_STEP_DELAY_S="1.0")
        with _processes(env, "auth-service", "api", "worker") as (auth, api, doomed):
            token = signup_sync(auth.url)["access_token"]

            async def scenario() -> list[dict[str, Any]]:
                client = await Client.connect(api.ws_url, token)
                ack = await client.ask("a question the worker will not finish")
                await client.recv_type("agent_started")
                doomed.kill()  # SIGKILL mid-run: no shutdown, no final event from it
                with _processes(env, "worker"):
                    await client.events_until_final(ack["run_id"], wait_s=30)
                await client.close()
                return [f for f in client.frames if f.get("run_id") == ack["run_id"]]

            events = asyncio.run(scenario())
            _check_run(events)
            final = events[-1]["payload"]
            assert final["status"] == "failed" and final["error"]["code"] == "worker_lost"


def test_serve_two_users_at_once_each_see_only_their_own(tmp_path: Path) -> None:
    env = {
        "NETRA_DATA_DIR": str(tmp_path),
        "NETRA_PLACEHOLDER_PIPELINE": "true",
        "NETRA_PLACEHOLDER_STEP_DELAY_S": "0.1",
    }
    with _processes(env, "serve") as (srv,):
        alice, bob = signup_sync(srv.url), signup_sync(srv.url)

        async def scenario() -> None:
            ca = await Client.connect(srv.ws_url, alice["access_token"])
            cb = await Client.connect(srv.ws_url, bob["access_token"])
            ack_a, ack_b = await asyncio.gather(ca.ask("alice here"), cb.ask("bob here"))
            ev_a, ev_b = await asyncio.gather(
                ca.events_until_final(ack_a["run_id"]), cb.events_until_final(ack_b["run_id"])
            )
            for events in (ev_a, ev_b):
                _check_run(events)
                assert [e["type"] for e in events] == list(TYPES)
            assert all(f.get("run_id") != ack_b["run_id"] for f in ca.frames)
            assert all(f.get("run_id") != ack_a["run_id"] for f in cb.frames)
            await ca.close()
            await cb.close()

        asyncio.run(scenario())


def test_e3_server_restarted_mid_run_the_client_resumes_the_complete_answer(
    tmp_path: Path,
) -> None:
    env = {
        "NETRA_DATA_DIR": str(tmp_path),
        "NETRA_PLACEHOLDER_PIPELINE": "true",
        "NETRA_PLACEHOLDER_STEP_DELAY_S": "0.6",
    }
    first = start_server("serve", env)
    try:
        token = signup_sync(first.url)["access_token"]

        async def before_restart() -> tuple[str, list[dict[str, Any]]]:
            client = await Client.connect(first.ws_url, token)
            ack = await client.ask("what changed this week?")
            await client.recv_type("agent_thinking")
            # A graceful restart: the socket closes (1012), the run finishes while draining.
            stopping = asyncio.get_running_loop().run_in_executor(None, first.stop)
            try:
                while True:
                    await client.recv(wait_s=20)
            except ConnectionClosed as exc:
                assert exc.rcvd is not None and exc.rcvd.code in (1001, 1012)
            await stopping
            return ack["run_id"], [f for f in client.frames if f.get("run_id") == ack["run_id"]]

        run_id, seen = asyncio.run(before_restart())
    finally:
        first.stop()
    assert 2 <= len(seen) < 5
    with _processes(env, "serve") as (second,):

        async def after_restart() -> list[dict[str, Any]]:
            client = await Client.connect(second.ws_url, token)
            await client.send("resume", {"run_id": run_id, "after_seq": seen[-1]["seq"]})
            rest = await client.events_until_final(run_id)
            await client.close()
            return rest

        events = seen + asyncio.run(after_restart())
    _check_run(events)
    assert [e["type"] for e in events] == list(TYPES)
    assert events[-1]["payload"]["status"] == "succeeded"
    assert events[-1]["payload"]["result"]["text"]
