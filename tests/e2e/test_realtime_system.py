"""E5 / E3 / E2: the realtime path across real processes running the real agent pipeline.

- E5: auth service, two API replicas and a worker as separate processes on PostgreSQL and
  Redis. A client signs in at the auth service, uploads usage, asks on replica A, has its
  connection cut mid-run, reconnects to replica B, resumes, and ends with every event of the run
  exactly once, in order.
- ``netra serve`` embedded: two users at once, each sees only their own run's events.
- E3: ``netra serve`` stopped gracefully (SIGTERM) mid-run: the socket closes with 1012, the run
  finishes while draining, and the client resumes it from the restarted server.
(Crashes, SIGKILL of a worker, a replica or ``serve``, and Redis faults: ``test_faults_*``.)
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
from support.faults import (
    QUESTION,
    STEP_DELAY_S,
    check_complete_run,
    demo_usage,
    upload,
    wait_for_agent,
)
from support.realtime import Client, is_final
from support.servers import processes as _processes
from support.servers import start_server
from support.services import fresh_postgres_database, new_redis_prefix, redis_server_url


def _scaled_env(tmp_path: Path, pg_url: str, **extra: str) -> dict[str, str]:
    env = {
        "NETRA_DATA_DIR": str(tmp_path),
        "NETRA_DATABASE_URL": pg_url,
        "NETRA_REDIS_URL": redis_server_url(),
        "NETRA_REDIS_PREFIX": new_redis_prefix(),
        # One shared signing secret: the auth service signs, the API replicas verify.
        "NETRA_JWT_ALGORITHM": "HS256",
        "NETRA_JWT_SECRET": secrets.token_urlsafe(48),
        "NETRA_TEST_STEP_DELAY_S": STEP_DELAY_S,
        "NETRA_RUN_HEARTBEAT_S": "0.5",
        "NETRA_RUN_STALE_AFTER_S": "2",
    }
    env.update(extra)
    return env


def test_e5_cut_on_replica_a_resume_on_replica_b(tmp_path: Path) -> None:
    with fresh_postgres_database() as pg_url:
        usage = demo_usage(tmp_path / "usage.csv")
        env = _scaled_env(tmp_path, pg_url)
        with _processes(env, "auth-service", "api", "api", "worker") as (auth, a, b, _worker):
            account = signup_sync(auth.url)
            token = account["access_token"]
            upload(a.url, token, usage)

            async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any]]:
                on_a = await Client.connect(a.ws_url, token)
                ack = await on_a.ask(QUESTION, id_="e5-question")
                first = await on_a.recv_type("agent_started")
                second = await on_a.recv(wait_s=30)
                # The connection is cut (no close handshake) while the run goes on.
                on_a.ws.transport.abort()
                on_b = await Client.connect(b.ws_url, token)
                resumed_at = datetime.now(UTC)
                await on_b.send("resume", {"run_id": ack["run_id"], "after_seq": second["seq"]})
                rest = await on_b.events_until_final(ack["run_id"], wait_s=90)
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
            check_complete_run(received)
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


def test_serve_two_users_at_once_each_see_only_their_own(tmp_path: Path) -> None:
    usage = demo_usage(tmp_path / "usage.csv")
    env = {"NETRA_DATA_DIR": str(tmp_path), "NETRA_TEST_STEP_DELAY_S": "0.2"}
    with _processes(env, "serve") as (srv,):
        alice, bob = signup_sync(srv.url), signup_sync(srv.url)
        for account in (alice, bob):
            upload(srv.url, account["access_token"], usage)

        async def scenario() -> None:
            ca = await Client.connect(srv.ws_url, alice["access_token"])
            cb = await Client.connect(srv.ws_url, bob["access_token"])
            ack_a, ack_b = await asyncio.gather(ca.ask(QUESTION), cb.ask(QUESTION))
            ev_a, ev_b = await asyncio.gather(
                ca.events_until_final(ack_a["run_id"], wait_s=90),
                cb.events_until_final(ack_b["run_id"], wait_s=90),
            )
            for events in (ev_a, ev_b):
                check_complete_run(events)
            assert all(f.get("run_id") != ack_b["run_id"] for f in ca.frames)
            assert all(f.get("run_id") != ack_a["run_id"] for f in cb.frames)
            await ca.close()
            await cb.close()

        asyncio.run(scenario())


def test_e3_server_restarted_mid_run_the_client_resumes_the_complete_answer(
    tmp_path: Path,
) -> None:
    usage = demo_usage(tmp_path / "usage.csv")
    # The drain outlasts the rest of the run (5 sub-agents x 0.4 s): it finishes while stopping.
    env = {
        "NETRA_DATA_DIR": str(tmp_path),
        "NETRA_TEST_STEP_DELAY_S": "0.4",
        "NETRA_WORKER_DRAIN_S": "60",
    }
    first = start_server("serve", env)
    try:
        token = signup_sync(first.url)["access_token"]
        upload(first.url, token, usage)

        async def before_restart() -> tuple[str, list[dict[str, Any]]]:
            client = await Client.connect(first.ws_url, token)
            ack = await client.ask(QUESTION)
            await wait_for_agent(client, ack["run_id"], "triage")
            # A graceful restart (SIGTERM): the socket closes with 1012 (service restart).
            stopping = asyncio.get_running_loop().run_in_executor(None, first.stop)
            try:
                while True:
                    await client.recv(wait_s=30)
            except ConnectionClosed as exc:
                assert exc.rcvd is not None and exc.rcvd.code == 1012, exc
            await stopping
            return ack["run_id"], [f for f in client.frames if f.get("run_id") == ack["run_id"]]

        run_id, seen = asyncio.run(before_restart())
    finally:
        first.stop()
    assert seen and not is_final(seen[-1])  # the socket closed before the run ended
    with _processes(env, "serve") as (second,):

        async def after_restart() -> list[dict[str, Any]]:
            client = await Client.connect(second.ws_url, token)
            await client.send("resume", {"run_id": run_id, "after_seq": seen[-1]["seq"]})
            rest = await client.events_until_final(run_id, wait_s=90)
            await client.close()
            return rest

        events = seen + asyncio.run(after_restart())
    check_complete_run(events)
