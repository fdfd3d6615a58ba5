"""U5 / U6: what one connection delivers: its user's events only, in seq order, no gap, no
duplicate (whatever the bus does), resume racing live events, and its close codes."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from starlette.websockets import WebSocket

from netra.auth.deps import VERIFIER
from netra.auth.roles import permissions_for
from netra.chat import service
from netra.chat.connection import Connection, release_handshake
from netra.chat.event_writer import EventWriter
from netra.chat.events import StoredEvent, append_event, user_channel
from netra.chat.hub import HUB, ConnectionHub
from netra.chat.tasks import WRITER
from netra.core.context import UserContext
from netra.core.db import utcnow
from netra.core.runtime import Runtime
from support.chat_runtime import AcceptingVerifier, FakeSocket, roomy_limits
from support.runtime import started_runtime

MEMBER = frozenset(permissions_for("member"))
QUIET = {"ws_heartbeat_interval_s": 3600, "ws_heartbeat_timeout_s": 3600}


def _ctx(user: str, **extra: Any) -> UserContext:
    return UserContext(
        user_id=user, org_id=f"org-{user}", tier="enterprise", role="member",
        permissions=MEMBER, connection_id=f"conn-{user}-{time.monotonic_ns()}", **extra,
    )  # fmt: skip


@asynccontextmanager
async def _runtime(make_settings: Callable[..., Any], **overrides: Any) -> AsyncIterator[Runtime]:
    async with started_runtime(make_settings(**{**QUIET, **overrides})) as rt:
        writer = EventWriter(rt.db, rt.bus, rt.metrics)
        await writer.start()
        rt.services.provide(WRITER, writer)
        rt.services.provide(VERIFIER, AcceptingVerifier())
        try:
            yield rt
        finally:
            await writer.stop()


@asynccontextmanager
async def _open(
    runtime: Runtime, ctx: UserContext, sock: FakeSocket | None = None
) -> AsyncIterator[tuple[FakeSocket, Connection]]:
    sock = sock or FakeSocket()
    hub = runtime.services.get(HUB) or runtime.services.provide(
        HUB, ConnectionHub(runtime, tick_s=0.02)
    )
    conn = Connection(sock, ctx, "token", runtime, hub, catch_up_s=0.2)  # type: ignore[arg-type]
    task = asyncio.create_task(conn.serve())
    await sock.wait_for(lambda f: f["type"] == "connection_established")
    try:
        yield sock, conn
    finally:
        sock.client_leaves()
        await asyncio.wait_for(task, 5)


async def _run(runtime: Runtime, ctx: UserContext) -> service.Ack:
    async def noop(job: dict[str, Any]) -> None:
        return None

    return await runtime.db.run(
        lambda s: service.submit_user_message(
            s, ctx, text="q", thread_id=None, frame_id=None, limits=roomy_limits(), enqueue=noop
        )
    )


async def _store(runtime: Runtime, ack: service.Ack, org: str, n: int) -> list[StoredEvent]:
    """Store ``n`` thinking events (no publish): what a worker commits before publishing."""

    async def work(s: Any) -> list[StoredEvent]:
        return [
            await append_event(
                s,
                run_id=ack.run_id,
                org_id=org,
                type_="agent_thinking",
                payload={"agent": "supervisor", "thought": "t"},
            )
            for _ in range(n)
        ]

    return await runtime.db.run(work)


def _seqs(sock: FakeSocket, run_id: str) -> list[int]:
    return [f["seq"] for f in sock.run_events(run_id)]


async def _settle(rt: Runtime, sock: FakeSocket, user_id: str) -> None:
    """Wait until the connection handled everything on its bus channel so far: a marker event
    of a new run, published last, reaches the socket only after what was queued before it."""
    marker = StoredEvent(
        uuid.uuid4().hex, "t", user_id, 1, "agent_started", {"agent": "supervisor"}, utcnow()
    )
    await rt.bus.publish(user_channel(user_id), marker.wire())
    await sock.wait_for(lambda f: f.get("run_id") == marker.run_id)


async def _until(condition: Callable[[], bool], wait_s: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while not condition():
        assert loop.time() < deadline, "the condition never held"
        await asyncio.sleep(0.005)


async def test_a_run_asked_here_arrives_after_its_ack_in_order(make_settings: Any) -> None:
    async with _runtime(make_settings) as rt:
        alice = _ctx("alice")
        async with _open(rt, alice) as (sock, _):
            sock.client_sends({"type": "user_message", "id": "m1", "payload": {"text": "hi"}})
            ack = (await sock.wait_for(lambda f: f["type"] == "ack"))["payload"]
            writer = rt.services[WRITER]
            for i in range(5):
                await writer.append(
                    ack["run_id"], alice.org_id, "agent_thinking", {"agent": "a", "thought": str(i)}
                )
            await sock.wait_for(lambda f: f.get("seq") == 5)
            types = [f["type"] for f in sock.sent]
            assert types.index("ack") < types.index("agent_thinking")
            assert _seqs(sock, ack["run_id"]) == [1, 2, 3, 4, 5]


async def test_duplicates_and_gaps_on_the_bus_are_repaired_from_the_store(
    make_settings: Any,
) -> None:
    async with _runtime(make_settings) as rt:
        alice = _ctx("alice")
        async with _open(rt, alice) as (sock, _):
            ack = await _run(rt, alice)
            events = await _store(rt, ack, alice.org_id, 4)
            channel = user_channel("alice")
            # The bus delivers 1, then 3 (2 lost), 1 and 3 again, then 4.
            for e in (events[0], events[2], events[0], events[2], events[3]):
                await rt.bus.publish(channel, e.wire())
            await sock.wait_for(lambda f: f.get("seq") == 4)
            await _settle(rt, sock, "alice")
            assert _seqs(sock, ack.run_id) == [1, 2, 3, 4]
            assert sock.run_events(ack.run_id)[1] == events[1].frame()


async def test_resume_while_the_run_is_live_has_no_gap_and_no_duplicate(
    make_settings: Any,
) -> None:
    async with _runtime(make_settings) as rt:
        alice = _ctx("alice")
        ack = await _run(rt, alice)
        writer = rt.services[WRITER]
        for _ in range(5):  # events before this connection existed
            await writer.append(ack.run_id, alice.org_id, "agent_thinking", {"agent": "a"})
        async with _open(rt, alice) as (sock, _):

            async def keep_emitting() -> None:
                for _ in range(25):
                    await writer.append(ack.run_id, alice.org_id, "agent_thinking", {"agent": "a"})
                    await asyncio.sleep(0.002)

            emitting = asyncio.create_task(keep_emitting())
            await asyncio.sleep(0.01)
            sock.client_sends({"type": "resume", "payload": {"run_id": ack.run_id, "after_seq": 3}})
            await emitting
            await sock.wait_for(lambda f: f.get("seq") == 30)
            await _settle(rt, sock, "alice")
            assert _seqs(sock, ack.run_id) == list(range(4, 31))


async def test_a_connection_gets_its_users_events_only(make_settings: Any) -> None:
    async with _runtime(make_settings) as rt:
        alice, bob = _ctx("alice"), _ctx("bob")
        async with _open(rt, alice) as (a_sock, _), _open(rt, bob) as (b_sock, _):
            ack_a, ack_b = await _run(rt, alice), await _run(rt, bob)
            writer = rt.services[WRITER]
            await asyncio.gather(
                writer.append(ack_a.run_id, alice.org_id, "agent_started", {"agent": "supervisor"}),
                writer.append(ack_b.run_id, bob.org_id, "agent_started", {"agent": "supervisor"}),
            )
            await a_sock.wait_for(lambda f: f.get("run_id") == ack_a.run_id)
            await b_sock.wait_for(lambda f: f.get("run_id") == ack_b.run_id)
            await _settle(rt, a_sock, "alice")
            await _settle(rt, b_sock, "bob")
            assert a_sock.run_events(ack_b.run_id) == []
            assert b_sock.run_events(ack_a.run_id) == []
            # Resuming the other user's run: not_found, and the connection stays.
            a_sock.client_sends(
                {"type": "resume", "id": "x", "payload": {"run_id": ack_b.run_id, "after_seq": 0}}
            )
            err = await a_sock.wait_for(lambda f: f["type"] == "error")
            assert err["payload"]["code"] == "not_found" and err["id"] == "x"
            a_sock.client_sends({"type": "ping", "id": "p"})
            await a_sock.wait_for(lambda f: f["type"] == "pong")


async def test_a_reader_too_slow_is_closed_with_1013(make_settings: Any) -> None:
    async with _runtime(make_settings, ws_send_queue_max=5) as rt:
        alice = _ctx("alice")
        sock = FakeSocket()
        async with _open(rt, alice, sock) as (_, conn):
            ack = await _run(rt, alice)
            sock.block_sends = True  # the client stops reading
            events = await _store(rt, ack, alice.org_id, 30)
            for e in events:
                await rt.bus.publish(user_channel("alice"), e.wire())
            for _ in range(100):
                if sock.closed:
                    break
                await asyncio.sleep(0.02)
            assert sock.closed is not None and sock.closed[0] == 1013
            assert conn.close_code == 1013


@pytest.mark.parametrize(
    ("overrides", "ctx_extra", "code"),
    [
        ({"ws_heartbeat_timeout_s": 0}, {}, 4408),
        ({}, {"token_exp": int(time.time())}, 4401),
    ],
)
async def test_silence_and_expiry_close_the_connection(
    make_settings: Any, overrides: dict[str, Any], ctx_extra: dict[str, Any], code: int
) -> None:
    async with _runtime(make_settings, **overrides) as rt:
        sock = FakeSocket()
        async with _open(rt, _ctx("alice", **ctx_extra), sock):
            for _ in range(100):
                if sock.closed:
                    break
                await asyncio.sleep(0.02)
        assert sock.closed is not None and sock.closed[0] == code


async def test_one_hub_timer_runs_only_while_sockets_are_open(make_settings: Any) -> None:
    async with _runtime(make_settings) as rt:
        async with _open(rt, _ctx("alice")), _open(rt, _ctx("bob")):
            hub = rt.services[HUB]
            timer = hub._timer
            assert timer is not None and not timer.done()
            assert not any(t.get_name() == "ws-watchdog" for t in asyncio.all_tasks())
        await asyncio.wait_for(timer, 5)  # the last socket left: the timer ends
        async with _open(rt, _ctx("carol")):
            assert hub._timer is not timer and not hub._timer.done()


def _socket_tasks() -> list[str]:
    return sorted(t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("ws-"))


async def test_an_idle_socket_holds_no_task_of_its_own(make_settings: Any) -> None:
    """The reader runs in the socket's own task; live events are sent by a short drain task
    that exists only while there is something to send."""
    async with _runtime(make_settings) as rt:
        alice = _ctx("alice")
        async with _open(rt, alice) as (sock, conn):
            assert _socket_tasks() == ["ws-timer"]  # the hub's one timer, nothing per socket
            ack = await _run(rt, alice)
            for e in await _store(rt, ack, alice.org_id, 3):
                await rt.bus.publish(user_channel("alice"), e.wire())
            await sock.wait_for(lambda f: f.get("seq") == 3)
            await _until(lambda: conn._drain is None)
            assert _socket_tasks() == ["ws-timer"]
            assert _seqs(sock, ack.run_id) == [1, 2, 3]


async def test_a_cancel_from_outside_still_cancels_the_socket(make_settings: Any) -> None:
    """Only the connection's own close request is absorbed; the server's cancel goes on."""
    async with _runtime(make_settings) as rt:
        sock = FakeSocket()
        hub = rt.services.get(HUB) or rt.services.provide(HUB, ConnectionHub(rt, tick_s=0.02))
        conn = Connection(sock, _ctx("alice"), "token", rt, hub)  # type: ignore[arg-type]
        task = asyncio.create_task(conn.serve())
        await sock.wait_for(lambda f: f["type"] == "connection_established")
        conn.request_close(4401, "token revoked")
        task.cancel()  # as at a shutdown, in the same turn
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        assert hub.count() == 0


async def test_revocation_closes_the_matching_sockets_only(make_settings: Any) -> None:
    async with _runtime(make_settings) as rt:
        one = _ctx("alice", token_id="jti-1")
        two = _ctx("alice", token_id="jti-2")
        async with _open(rt, one) as (s1, _), _open(rt, two) as (s2, _):
            hub = rt.services[HUB]
            hub._on_revocation(json.dumps({"user_id": "alice", "jti": "jti-1", "all": False}))  # type: ignore[arg-type]
            await _until(lambda: s1.closed is not None)
            assert s1.closed is not None and s1.closed[0] == 4401
            assert s2.closed is None
            assert hub.revoke("bob", None, True) == 0
            assert hub.revoke("alice", None, True) == 1
            await _until(lambda: s2.closed is not None)
            assert s2.closed is not None and s2.closed[0] == 4401


async def test_rate_limit_and_run_limit_answer_errors_and_keep_the_connection(
    make_settings: Any,
) -> None:
    async with _runtime(make_settings, ws_frame_burst=3, ws_frame_rate_per_s=0.01) as rt:
        ctx = UserContext(
            user_id="carol",
            org_id="org-c",
            tier="free",
            role="member",
            connection_id="c1",
            permissions=MEMBER,
        )
        async with _open(rt, ctx) as (sock, _):
            sock.client_sends({"type": "user_message", "id": "a", "payload": {"text": "one"}})
            await sock.wait_for(lambda f: f["type"] == "ack")
            sock.client_sends({"type": "user_message", "id": "b", "payload": {"text": "two"}})
            err = await sock.wait_for(lambda f: f["type"] == "error")
            assert err["payload"]["code"] == "run_limit" and err["id"] == "b"
            sock.client_sends({"type": "ping", "id": "p1"})
            await sock.wait_for(lambda f: f["type"] == "pong")
            sock.client_sends({"type": "ping", "id": "p2"})
            limited = await sock.wait_for(lambda f: f.get("id") == "p2")
            assert limited["payload"]["code"] == "rate_limited"
            assert limited["payload"]["retry_after_s"] >= 1
            assert sock.closed is None


async def test_events_whose_publish_was_lost_arrive_by_catch_up(make_settings: Any) -> None:
    async with _runtime(make_settings) as rt:
        alice = _ctx("alice")
        async with _open(rt, alice) as (sock, _):
            ack = await _run(rt, alice)
            events = await _store(rt, ack, alice.org_id, 3)
            await rt.bus.publish(user_channel("alice"), events[0].wire())
            await sock.wait_for(lambda f: f.get("seq") == 1)
            # 2 and 3 are stored but their publish never happens: nothing reveals the gap.
            await sock.wait_for(lambda f: f.get("seq") == 3, wait_s=3)
            assert _seqs(sock, ack.run_id) == [1, 2, 3]


async def test_a_database_outage_closes_with_1013_not_1011(make_settings: Any) -> None:
    async with _runtime(make_settings) as rt:
        sock = FakeSocket()
        async with _open(rt, _ctx("alice"), sock) as (_, conn):

            async def down(work: Any) -> Any:
                raise OperationalError("SELECT 1", None, ConnectionRefusedError("db is down"))

            rt.db.run = down  # type: ignore[method-assign]
            sock.client_sends({"type": "user_message", "id": "m", "payload": {"text": "hi"}})
            for _ in range(100):
                if sock.closed:
                    break
                await asyncio.sleep(0.02)
            assert sock.closed is not None and sock.closed[0] == 1013
            assert conn.close_code == 1013


async def test_an_accepted_socket_keeps_no_handshake_headers() -> None:
    class Server:  # the attributes of uvicorn's websockets-sansio protocol that are dropped
        handshake_complete = True
        request: object | None = object()
        response: object | None = object()

        async def receive(self) -> dict[str, Any]:
            return {"type": "websocket.disconnect"}

        async def send(self, message: dict[str, Any]) -> None:
            return None

    server = Server()
    scope = {"type": "websocket", "path": "/ws", "headers": [(b"origin", b"https://x")]}
    ws = WebSocket(scope, server.receive, server.send)
    assert ws.headers["origin"] == "https://x"  # read by the endpoint before the accept
    release_handshake(ws)
    assert scope["headers"] == [] and "origin" not in ws.headers
    assert server.request is None and server.response is None


async def test_the_hub_renews_its_sockets_slot_leases_together(make_settings: Any) -> None:
    async with _runtime(make_settings) as rt:
        hub = rt.services.provide(HUB, ConnectionHub(rt, tick_s=0.02))
        hub.slots.ttl_s = 3.0  # each socket's lease is due for renewal 1 s after it opened
        calls: list[list[tuple[str, str]]] = []
        renewed = asyncio.Event()
        renew = hub.slots.renew

        async def recorded(held: Any) -> None:
            calls.append(sorted(held))
            await renew(held)
            renewed.set()

        hub.slots.renew = recorded  # type: ignore[method-assign]
        leases = []
        for user in ("u1", "u2"):
            ctx = _ctx(user)
            key = await hub.slots.acquire(user, 1, str(ctx.connection_id))
            assert key is not None
            leases.append((key, ctx))
        acquired = time.monotonic()
        async with AsyncExitStack() as stack:
            for key, ctx in leases:
                sock = FakeSocket()
                conn = Connection(sock, ctx, "token", rt, hub, key, catch_up_s=0.2)  # type: ignore[arg-type]
                task = asyncio.create_task(conn.serve())
                stack.push_async_callback(asyncio.wait_for, task, 5)
                stack.callback(sock.client_leaves)
                await sock.wait_for(lambda f: f["type"] == "connection_established")
            await asyncio.wait_for(renewed.wait(), 20)
            # Both sockets' leases in one call, each renewed to a full TTL again: unrenewed,
            # what is left of a lease taken this long ago would be at most this much.
            assert calls[0] == sorted((key, str(ctx.connection_id)) for key, ctx in leases)
            unrenewed = hub.slots.ttl_s - (time.monotonic() - acquired)
            for key, ctx in leases:
                ttl = await rt.cache.ttl(key)
                assert ttl is not None and ttl > unrenewed, (ttl, unrenewed)
                assert await rt.cache.get(key) == str(ctx.connection_id).encode()
                # Another socket of the same user is refused: the slot is still held.
                assert await hub.slots.acquire(ctx.user_id, 1, "intruder") is None
