"""I8: runs enqueued by the API and executed by two separate worker processes (the real agent
pipeline) through Redis; a run is executed once even when its job is delivered twice."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from netra.agents import component as agents
from netra.apps.factory import create_netra_app
from netra.auth.component import verification_component
from netra.chat import component as chat
from netra.chat import tasks as chat_tasks
from netra.chat.hub import HUB
from netra.reports import component as reports
from support.apps import running_app
from support.realtime import Client, is_final, live_server, mint_token
from support.servers import processes


def _api(settings: Any) -> Any:
    return create_netra_app(
        settings, [verification_component(), chat.component()], title="api-only"
    )


def _worker(settings: Any) -> Any:
    return create_netra_app(
        settings,
        [reports.services_component(), agents.component()],
        tasks=[chat_tasks.run_worker()],
        title="worker-only",
    )


async def test_api_enqueues_and_two_separate_workers_execute_each_run_once(
    pg_settings: Any, tmp_path: Path
) -> None:
    settings = pg_settings()
    # Two `netra worker` processes on the same database and Redis prefix, running the real
    # agent pipeline (this organisation has no usage: triage, then a reporting answer).
    env = {
        "NETRA_DATA_DIR": str(tmp_path / "workers"),
        "NETRA_DATABASE_URL": str(settings.database_url),
        "NETRA_REDIS_URL": settings.redis_url,
        "NETRA_REDIS_PREFIX": settings.redis_prefix,
    }
    with processes(env, "worker", "worker") as workers:
        async with live_server(_api(settings)) as api:
            token = mint_token(api, tier="enterprise")
            client = await Client.connect(api.ws_url, token)
            acks = [await client.ask(f"where is my money going? ({i})") for i in range(4)]
            # Deliver every job a second time: both workers may take copies; claims decide.
            for ack in acks:
                await api.runtime.queue.enqueue(
                    {"run_id": ack["run_id"], "org_id": client.established["org_id"]}
                )
            finals: dict[str, dict[str, Any]] = {}
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            while len(finals) < len(acks):
                frame = await client.recv(max(0.1, deadline - loop.time()))
                if is_final(frame):
                    finals[frame["run_id"]] = frame
            lengths = set()
            async with httpx.AsyncClient(
                base_url=api.url, headers={"Authorization": f"Bearer {token}"}
            ) as http:
                for ack in acks:
                    body = (await http.get(f"/api/v1/runs/{ack['run_id']}/events")).json()
                    assert body["status"] == "succeeded"
                    seqs = [e["seq"] for e in body["events"]]
                    assert seqs == list(range(1, len(seqs) + 1))
                    lengths.add(len(seqs))
                    agents = {e["payload"]["agent"] for e in body["events"]}
                    assert agents == {"supervisor", "triage", "reporting"}  # the real agents
                    msgs = (await http.get(f"/api/v1/threads/{ack['thread_id']}/messages")).json()
                    assert [m["role"] for m in msgs["messages"]] == ["user", "assistant"]
            assert len(lengths) == 1  # executed once each: no run has a second copy's events
            # Executed by the worker processes (worker ids carry the process id).
            executed_by = {
                int(str(run.worker_id).split(":")[1])
                for run in await _runs(api.runtime, [a["run_id"] for a in acks])
            }
            assert executed_by <= {w.proc.pid for w in workers}
            # Every copy of every job is acknowledged (wait for it, do not assume).
            while await api.runtime.queue.pending():
                assert loop.time() < deadline, "jobs left unacknowledged"
                await asyncio.sleep(0.05)
            await client.close()


async def _runs(runtime: Any, run_ids: list[str]) -> list[Any]:
    from sqlalchemy import select

    from netra.chat.models import Run

    async def read(s: Any) -> list[Any]:
        return list((await s.execute(select(Run).where(Run.id.in_(run_ids)))).scalars())

    return await runtime.db.run(read)


async def test_each_replica_carries_only_the_events_of_its_own_users(pg_settings: Any) -> None:
    settings = pg_settings()
    async with (
        live_server(_api(settings)) as replica_a,
        live_server(_api(settings)) as replica_b,
        running_app(_worker(settings)),
    ):
        alice = await Client.connect(replica_a.ws_url, mint_token(replica_a))
        bob = await Client.connect(replica_b.ws_url, mint_token(replica_b))
        alice_on_b = await Client.connect(replica_b.ws_url, mint_token(replica_b,
                                          user_id=alice.established["user_id"],
                                          org_id=alice.established["org_id"]))  # fmt: skip
        ack = await alice.ask("alice asks on A: where is my money going?")
        ack_b = await bob.ask("bob asks on B: where is my money going?")
        on_a, on_b = await asyncio.gather(
            alice.events_until_final(ack["run_id"]), alice_on_b.events_until_final(ack["run_id"])
        )
        assert on_a == on_b  # the same events on both of alice's connections, both replicas
        await bob.events_until_final(ack_b["run_id"])
        assert all(f.get("run_id") != ack["run_id"] for f in bob.frames)
        # Replica A subscribed to alice's channel only: bob's events never reached it.
        channels_a = set(replica_a.runtime.bus._subs)
        channels_b = set(replica_b.runtime.bus._subs)
        alice_ch, bob_ch = (f"user:{c.established['user_id']}" for c in (alice, bob))
        assert alice_ch in channels_a and bob_ch not in channels_a
        assert {alice_ch, bob_ch} <= channels_b
        for c in (alice, bob, alice_on_b):
            await c.close()


async def test_a_client_reading_too_slowly_is_closed_with_1013(pg_settings: Any) -> None:
    # No worker: the run stays queued and the only events are the ones published here.
    settings = pg_settings(ws_send_queue_max=20)
    async with live_server(_api(settings)) as api:
        client = await Client.connect(api.ws_url, mint_token(api), max_queue=1)
        ack = await client.ask("a question nobody answers")
        user = client.established["user_id"]
        filler = "x" * 20_000
        for seq in range(1, 1001):  # 20 MB the client does not read for now
            frame = {
                "type": "agent_thinking", "ts": "2026-01-01T00:00:00Z", "run_id": ack["run_id"],
                "thread_id": ack["thread_id"], "seq": seq,
                "payload": {"agent": "supervisor", "thought": filler},
            }  # fmt: skip
            await api.runtime.bus.publish(f"user:{user}", json.dumps(frame).encode())
        # The replica gives up on this client once its send queue overflows: wait for that
        # decision (the client then reads, and finds the close frame after what was queued).
        hub = api.runtime.services[HUB]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while not any(c.close_code == 1013 for c in hub.connections_of(user)):
            assert loop.time() < deadline, "the slow client was never cut off"
            await asyncio.sleep(0.01)
        received = 0
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await client.recv(wait_s=10)
                received += 1
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
        assert received < 1000  # it was cut off, not served everything
