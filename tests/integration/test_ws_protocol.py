"""I3 / U2 / U5: the netra.v1 protocol over real sockets on a running server (PostgreSQL, Redis).

The app is the API (verification, chat REST and /ws) with embedded workers running the real
agent pipeline, served by uvicorn on a free port; clients are real ``websockets`` connections.
These users have uploaded no usage: the agents triage the request and answer with what to
upload (supervisor, triage, reporting).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from netra.agents import component as agents
from netra.apps.factory import create_netra_app
from netra.auth.component import verification_component
from netra.auth.revocation import publish_revocation
from netra.chat import component as chat
from netra.chat import tasks as chat_tasks
from netra.reports import component as reports
from support.realtime import Client, LiveServer, is_final, live_server, mint_token


def _app(settings: Any) -> Any:
    return create_netra_app(
        settings,
        [
            verification_component(),
            chat.component(),
            reports.services_component(),
            agents.component(),
        ],
        tasks=[chat_tasks.run_worker()],
        title="realtime-test",
    )


@pytest.fixture
async def srv(pg_settings: Any) -> AsyncIterator[LiveServer]:
    settings = pg_settings()
    async with live_server(_app(settings)) as server:
        yield server


async def _closed_code(ws: websockets.ClientConnection, wait_s: float = 5) -> int | None:
    try:
        while True:
            await asyncio.wait_for(ws.recv(), wait_s)
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else None


def _assert_run_shape(events: list[dict[str, Any]]) -> None:
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "agent_started" and events[0]["payload"]["agent"] == "supervisor"
    assert is_final(events[-1])
    assert all(e["thread_id"] == events[0]["thread_id"] for e in events)
    assert all(e["ts"].endswith("Z") for e in events)


async def test_ask_receives_the_run_events_in_order_and_the_answer_is_stored(
    srv: LiveServer,
) -> None:
    token = mint_token(srv)
    client = await Client.connect(srv.ws_url, token)
    est = client.established
    assert est["protocol"] == "netra.v1" and est["tier"] == "free"
    assert est["max_message_bytes"] == 65536 and est["heartbeat_interval_s"] > 0
    ack = await client.ask("where does the money go?", id_="m-1")
    assert set(ack) == {"thread_id", "run_id", "message_id"}
    events = await client.events_until_final(ack["run_id"])
    _assert_run_shape(events)
    assert {e["payload"]["agent"] for e in events} == {"supervisor", "triage", "reporting"}
    assert {e["type"] for e in events} == {
        "agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed",
    }  # fmt: skip
    final = events[-1]["payload"]
    assert final["status"] == "succeeded" and "upload" in final["result"]["text"].lower()
    async with httpx.AsyncClient(
        base_url=srv.url, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        msgs = (await http.get(f"/api/v1/threads/{ack['thread_id']}/messages")).json()["messages"]
        assert [m["role"] for m in msgs] == ["user", "assistant"]
        assert msgs[1]["id"] == final["result"]["message_id"]
        assert msgs[1]["text"] == final["result"]["text"]
        stored = (await http.get(f"/api/v1/runs/{ack['run_id']}/events?after_seq=2")).json()
        assert stored["status"] == "succeeded"
        assert [e["seq"] for e in stored["events"]] == list(range(3, len(events) + 1))
        assert stored["events"] == events[2:]
        threads = (await http.get("/api/v1/threads")).json()["threads"]
        assert [t["id"] for t in threads] == [ack["thread_id"]]
    await client.close()


async def test_two_users_each_see_only_their_own_events_on_every_connection(
    srv: LiveServer,
) -> None:
    alice, bob = mint_token(srv), mint_token(srv)
    a1 = await Client.connect(srv.ws_url, alice)
    a2 = await Client.connect(srv.ws_url, alice)
    b1 = await Client.connect(srv.ws_url, bob)
    ack_a, ack_b = await asyncio.gather(a1.ask("alice asks"), b1.ask("bob asks"))
    ev_a1, ev_a2, ev_b1 = await asyncio.gather(
        a1.events_until_final(ack_a["run_id"]),
        a2.events_until_final(ack_a["run_id"]),
        b1.events_until_final(ack_b["run_id"]),
    )
    for events in (ev_a1, ev_a2, ev_b1):
        _assert_run_shape(events)
    assert ev_a1 == ev_a2
    # Nothing of the other user's run reached anyone: a ping answered on each socket after both
    # runs ended shows what the server had sent it by then (frames arrive in order).
    for client, foreign in ((a1, ack_b["run_id"]), (a2, ack_b["run_id"]), (b1, ack_a["run_id"])):
        await client.send("ping", {})
        await client.recv_type("pong")
        assert all(f.get("run_id") != foreign for f in client.frames)
    assert "bob asks" not in json.dumps(a1.frames + a2.frames)
    assert "alice asks" not in json.dumps(b1.frames)
    for c in (a1, a2, b1):
        await c.close()


async def test_resending_a_message_id_starts_no_second_run(srv: LiveServer) -> None:
    token = mint_token(srv)
    client = await Client.connect(srv.ws_url, token)
    first = await client.ask("only once please", id_="same-id")
    again = await client.ask("only once please", id_="same-id")
    assert again == first
    await client.events_until_final(first["run_id"])
    # From another connection too (a resend after a lost ack): same ack, then the run's events.
    other = await Client.connect(srv.ws_url, token)
    third = await other.ask("only once please", id_="same-id")
    assert third == first
    replayed = await other.events_until_final(first["run_id"])
    _assert_run_shape(replayed)
    async with httpx.AsyncClient(
        base_url=srv.url, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        msgs = (await http.get(f"/api/v1/threads/{first['thread_id']}/messages")).json()
        assert [m["role"] for m in msgs["messages"]] == ["user", "assistant"]
    await client.close()
    await other.close()


async def test_resume_after_a_drop_delivers_every_missed_event_once(pg_settings: Any) -> None:
    settings = pg_settings(test_step_delay_s=0.5)
    async with live_server(_app(settings)) as srv:
        token = mint_token(srv)
        client = await Client.connect(srv.ws_url, token)
        ack = await client.ask("where is my money going?")
        seen = [await client.recv_type("agent_started")]
        await client.ws.close()  # dropped mid-run
        # The run goes on without us: wait until the store holds events we have not seen.
        async with httpx.AsyncClient(
            base_url=srv.url, headers={"Authorization": f"Bearer {token}"}
        ) as http:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            path = f"/api/v1/runs/{ack['run_id']}/events?after_seq={seen[-1]['seq']}"
            while len((await http.get(path)).json()["events"]) < 2:
                assert loop.time() < deadline, "the run did not go on"
                await asyncio.sleep(0.05)
        again = await Client.connect(srv.ws_url, token)
        await again.send("resume", {"run_id": ack["run_id"], "after_seq": seen[-1]["seq"]})
        rest = await again.events_until_final(ack["run_id"], wait_s=30)
        _assert_run_shape(seen + rest)
        n = len(seen + rest)
        # Resuming a finished run replays it; nothing follows the final event.
        await again.send("resume", {"run_id": ack["run_id"], "after_seq": 3})
        tail = await again.events_until_final(ack["run_id"])
        assert [e["seq"] for e in tail] == list(range(4, n + 1))
        await again.close()


async def test_bad_frames_get_errors_and_the_connection_stays_open(srv: LiveServer) -> None:
    client = await Client.connect(srv.ws_url, mint_token(srv))
    await client.ws.send("{not json")
    assert (await client.recv_type("error"))["payload"]["code"] == "invalid_json"
    await client.ws.send("[1, 2]")
    assert (await client.recv_type("error"))["payload"]["code"] == "invalid_frame"
    await client.send("shout", {}, "f1")
    err = await client.recv_type("error")
    assert err["payload"]["code"] == "unknown_type" and err["id"] == "f1"
    await client.send("user_message", {"text": ""}, "f2")
    err = await client.recv_type("error")
    assert err["payload"]["code"] == "validation_error" and err["id"] == "f2"
    await client.send("resume", {"run_id": "x", "after_seq": -1}, "f3")
    assert (await client.recv_type("error"))["payload"]["code"] == "validation_error"
    await client.send("user_message", {"text": "x" * 32_001}, "f4")
    assert (await client.recv_type("error"))["payload"]["code"] == "payload_too_large"
    await client.send("ping", {}, "p1")
    pong = await client.recv_type("pong")
    assert pong["id"] == "p1"
    await client.close()


async def test_another_users_run_is_not_found_never_forbidden(srv: LiveServer) -> None:
    owner = await Client.connect(srv.ws_url, mint_token(srv))
    ack = await owner.ask("mine")
    await owner.events_until_final(ack["run_id"])
    intruder_token = mint_token(srv)
    intruder = await Client.connect(srv.ws_url, intruder_token)
    await intruder.send("resume", {"run_id": ack["run_id"], "after_seq": 0}, "r1")
    err = await intruder.recv_type("error")
    assert err["payload"]["code"] == "not_found" and err["id"] == "r1"
    await intruder.send("cancel_run", {"run_id": ack["run_id"]}, "c1")
    assert (await intruder.recv_type("error"))["payload"]["code"] == "not_found"
    await intruder.send("user_message", {"text": "hi", "thread_id": ack["thread_id"]}, "u1")
    assert (await intruder.recv_type("error"))["payload"]["code"] == "not_found"
    async with httpx.AsyncClient(
        base_url=srv.url, headers={"Authorization": f"Bearer {intruder_token}"}
    ) as http:
        assert (await http.get(f"/api/v1/runs/{ack['run_id']}/events")).status_code == 404
        r = await http.get(f"/api/v1/threads/{ack['thread_id']}/messages")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    await owner.close()
    await intruder.close()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forged(claims: dict[str, Any], alg: str, key: bytes | None) -> str:
    """A token with exactly the claims of a valid one, signed as a bypass would accept."""
    import hashlib
    import hmac

    head = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    if key is None:
        return f"{head}.{body}."
    mac = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(mac)}"


@pytest.mark.parametrize(
    ("forge", "extra_headers", "query"),
    [
        # The claims of a real session, no signature ("alg": "none"), with test-mode switches.
        (lambda c: _forged(c, "none", None), {"X-Test-Mode": "1"}, "?test_mode=true"),
        (lambda c: _forged(c, "None", None), {"X-Netra-Test-User": "1"}, "?debug=1"),
        # The same claims signed with the keys a test or dev shortcut would use.
        (lambda c: _forged(c, "HS256", b"test"), {}, "?env=test"),
        (lambda c: _forged(c, "HS256", b"secret"), {"X-Env": "test"}, ""),
        (lambda c: _forged(c, "HS256", b""), {}, "?test_mode=1"),
        # The valid token with its signature stripped.
        (lambda c: "", {"X-Test-Mode": "true"}, "?test_mode=true"),
    ],
)
async def test_no_test_mode_bypass_in_the_test_environment(
    srv: LiveServer, forge: Any, extra_headers: dict[str, str], query: str
) -> None:
    # This server runs with NETRA_ENV=test, where a test shortcut would live if there were one.
    assert srv.runtime.settings.env == "test"
    real = mint_token(srv)
    body = real.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert claims["exp"] > time.time()  # the forged copies would be valid but for signing
    token = forge(claims) or real.rsplit(".", 1)[0] + "."
    ws = await websockets.connect(
        srv.ws_url + query,
        additional_headers={"Authorization": f"Bearer {token}", **extra_headers},
    )
    assert await _closed_code(ws) == 4401
    async with httpx.AsyncClient(base_url=srv.url) as http:
        r = await http.get(
            "/api/v1/threads" + query,
            headers={"Authorization": f"Bearer {token}", **extra_headers},
        )
        assert r.status_code == 401, r.text
    # Control: the genuine token with the same switches is accepted (the test can fail).
    ok = await Client.connect(srv.ws_url, real)
    await ok.close()


async def test_handshake_refusals(srv: LiveServer) -> None:
    # No token, a forged token, a token in the query string: closed with 4401, no session.
    for url, headers in (
        (srv.ws_url, {}),
        (srv.ws_url, {"Authorization": "Bearer not.a.jwt"}),
        (f"{srv.ws_url}?token={mint_token(srv)}", {}),
    ):
        ws = await websockets.connect(url, additional_headers=headers)
        assert await _closed_code(ws) == 4401
    # A browser origin that is not allowed: the handshake itself is refused.
    with pytest.raises(InvalidStatus) as refused:
        await websockets.connect(
            srv.ws_url,
            additional_headers={"Authorization": f"Bearer {mint_token(srv)}"},
            origin=websockets.Origin("https://evil.example"),
        )
    assert refused.value.response.status_code == 403
    # A valid token whose role may not read chats (an unknown role has no permission): the
    # handshake is refused with HTTP 403, PROTOCOL.md's refusal (4403 is no close code of it).
    with pytest.raises(InvalidStatus) as refused:
        await websockets.connect(
            srv.ws_url, additional_headers={"Authorization": f"Bearer {mint_token(srv, role='x')}"}
        )
    assert refused.value.response.status_code == 403
    # The browser way: token in a subprotocol; the server selects netra.v1.
    ws = await websockets.connect(
        srv.ws_url,
        subprotocols=[
            websockets.Subprotocol("netra.v1"),
            websockets.Subprotocol(f"jwt.{mint_token(srv)}"),
        ],
        origin=websockets.Origin("http://127.0.0.1:8000"),
    )
    assert ws.subprotocol == "netra.v1"
    assert json.loads(await ws.recv())["type"] == "connection_established"
    await ws.close()


async def test_limits_and_close_codes(pg_settings: Any) -> None:
    settings = pg_settings(
        test_step_delay_s=0.5,
        ws_connections_free=2,
        ws_max_message_bytes=4096,
    )
    async with live_server(_app(settings), max_message_bytes=4096) as srv:
        token = mint_token(srv)
        first = await Client.connect(srv.ws_url, token)
        second = await Client.connect(srv.ws_url, token)
        third = await websockets.connect(
            srv.ws_url, additional_headers={"Authorization": f"Bearer {token}"}
        )
        assert await _closed_code(third) == 4429
        # Concurrent runs per tier (free: 1).
        ack = await first.ask("one")
        await first.send("user_message", {"text": "two"}, "second-run")
        err = await first.recv_type("error")
        assert err["payload"]["code"] == "run_limit" and err["id"] == "second-run"
        await first.send("cancel_run", {"run_id": ack["run_id"]})
        events = await first.events_until_final(ack["run_id"])
        assert events[-1]["payload"]["status"] == "cancelled"
        # A frame over max_message_bytes: 1009.
        await second.ws.send(json.dumps({"type": "ping", "payload": {"pad": "x" * 5000}}))
        assert await _closed_code(second.ws) == 1009
        await first.close()
    # Silence past the heartbeat timeout: 4408 (a server of its own: a 1 s timeout would cut
    # the clients above while they wait for a run on a loaded machine).
    async with live_server(_app(pg_settings(ws_heartbeat_timeout_s=1))) as quiet:
        silent = await Client.connect(quiet.ws_url, mint_token(quiet))
        assert await _closed_code(silent.ws, wait_s=10) == 4408


async def test_expiry_and_revocation_close_with_4401(srv: LiveServer) -> None:
    user_id = uuid.uuid4().hex
    short = await Client.connect(srv.ws_url, mint_token(srv, ttl_s=2))
    assert await _closed_code(short.ws, wait_s=6) == 4401
    kept_token, doomed_token = mint_token(srv, user_id=user_id), mint_token(srv, user_id=user_id)
    kept = await Client.connect(srv.ws_url, kept_token)
    doomed = await Client.connect(srv.ws_url, doomed_token)
    other = await Client.connect(srv.ws_url, mint_token(srv))
    loop = asyncio.get_running_loop()
    # One token (logout): only its sockets close.
    started = loop.time()
    await publish_revocation(srv.runtime.bus, user_id=user_id, jti=_jti(doomed_token))
    assert await _closed_code(doomed.ws, wait_s=3) == 4401
    assert loop.time() - started < 2
    await kept.send("ping", {})
    assert (await kept.recv_type("pong"))["type"] == "pong"
    # Every token of the user (account disabled): the rest close too; other users stay.
    started = loop.time()
    await publish_revocation(srv.runtime.bus, user_id=user_id, all=True)
    assert await _closed_code(kept.ws, wait_s=3) == 4401
    assert loop.time() - started < 2
    await other.send("ping", {})
    assert (await other.recv_type("pong"))["type"] == "pong"
    await other.close()


def _jti(token: str) -> str:
    body = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["jti"])


async def test_thread_endpoints_and_asking_in_an_existing_thread(srv: LiveServer) -> None:
    token = mint_token(srv)
    async with httpx.AsyncClient(
        base_url=srv.url, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        created = await http.post("/api/v1/threads", json={"title": "Q3 spend"})
        assert created.status_code == 201
        thread = created.json()
        assert thread["title"] == "Q3 spend" and thread["id"]
        assert (await http.post("/api/v1/threads", json={"title": "x" * 201})).status_code == 422
        client = await Client.connect(srv.ws_url, token)
        ack = await client.ask("first question", thread_id=thread["id"])
        assert ack["thread_id"] == thread["id"]
        await client.events_until_final(ack["run_id"])
        await client.close()
        listed = (await http.get("/api/v1/threads")).json()["threads"]
        assert [t["id"] for t in listed] == [thread["id"]]
        messages = (await http.get(f"/api/v1/threads/{thread['id']}/messages")).json()
        assert [m["role"] for m in messages["messages"]] == ["user", "assistant"]
        assert messages["messages"][0]["text"] == "first question"
        assert all(m["thread_id"] == thread["id"] for m in messages["messages"])
    async with httpx.AsyncClient(base_url=srv.url) as anonymous:
        assert (await anonymous.get("/api/v1/threads")).status_code == 401
