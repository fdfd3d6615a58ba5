"""The netra.v1 WebSocket under garbage (issue 17, issue 9): a real ``netra serve`` on
PostgreSQL and Redis, real ``websockets`` clients.

Every bad frame of every kind (invalid JSON, wrong types, huge, binary, NUL and lone
surrogates, unknown types, resume out of order, a seq of 2^63) is answered with an ``error``
frame on a connection that stays open: never 1011 or 1013. Then 200 clients do it at once for
~20 s: every frame answered, and the server's memory back near its baseline after they leave.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
import pytest
import websockets

from support.accounts import signup_sync
from support.servers import ServerProcess, server
from support.services import fresh_postgres_database, new_redis_prefix, redis_server_url

pytestmark = pytest.mark.timeout(300)

CLIENTS = 200
STORM_S = 20.0


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with fresh_postgres_database() as pg_url:
        env = {
            "NETRA_DATA_DIR": str(tmp_path_factory.mktemp("ws-fuzz")),
            "NETRA_DATABASE_URL": pg_url,
            "NETRA_REDIS_URL": redis_server_url(),
            "NETRA_REDIS_PREFIX": new_redis_prefix(),
            # Many sockets of few users, and frames as fast as they come: what is measured is
            # how garbage is answered, not the tier limits (tested on their own).
            "NETRA_WS_CONNECTIONS_FREE": "1000",
            "NETRA_WS_FRAME_RATE_PER_S": "100000",
            "NETRA_WS_FRAME_BURST": "100000",
            "NETRA_REQUESTS_PER_MIN_FREE": "1000000",
            # 200 clients on a loaded 2-core machine can queue for a pooled connection longer
            # than the default 10 s: that is overload (1013 by the protocol), not garbage.
            "NETRA_DB_POOL_TIMEOUT_S": "60",
        }
        with server("serve", env) as srv:
            yield srv


def _frame(type_: Any, payload: Any = None, **extra: Any) -> str:
    body: dict[str, Any] = {"type": type_, **extra}
    if payload is not None:
        body["payload"] = payload
    return json.dumps(body)  # ensure_ascii: NUL and lone surrogates travel as \\u escapes


def garbage() -> list[tuple[str | bytes, set[str]]]:
    """Each bad frame and the error codes that may answer it."""
    run = uuid.uuid4().hex
    return [
        ("{", {"invalid_json"}),
        ("not json at all", {"invalid_json"}),
        ("", {"invalid_json"}),
        ("[" * 5000 + "]" * 5000, {"invalid_json", "invalid_frame"}),
        ("[]", {"invalid_frame"}),
        ("null", {"invalid_frame"}),
        ("12345", {"invalid_frame"}),
        (_frame(5), {"invalid_frame"}),
        (_frame("ping", []), {"invalid_frame"}),
        (_frame("ping", {}, id=7), {"invalid_frame"}),
        (_frame("ping", {}, id="a\x00b"), {"invalid_frame"}),
        (_frame("launch_missiles", {}), {"unknown_type"}),
        (_frame("\x00", {}), {"unknown_type"}),
        (_frame("\ud800", {}), {"unknown_type"}),
        (_frame("user_message", {}), {"validation_error"}),
        (_frame("user_message", {"text": 42}), {"validation_error"}),
        (_frame("user_message", {"text": ""}), {"validation_error"}),
        (_frame("user_message", {"text": "a\x00b"}), {"validation_error"}),
        (_frame("user_message", {"text": "lone \udc80"}), {"validation_error"}),
        (_frame("user_message", {"text": "x" * 40_000}), {"payload_too_large"}),
        (_frame("user_message", {"text": "hi", "thread_id": "t\x00"}), {"validation_error"}),
        (_frame("user_message", {"text": "hi", "thread_id": run}), {"not_found"}),
        (_frame("resume", {"run_id": run, "after_seq": 0}), {"not_found"}),
        (_frame("resume", {"run_id": run, "after_seq": 2**63 - 1}), {"not_found"}),
        (_frame("resume", {"run_id": run, "after_seq": 2**63}), {"validation_error"}),
        (_frame("resume", {"run_id": run, "after_seq": -1}), {"validation_error"}),
        (_frame("resume", {"run_id": run, "after_seq": "3"}), {"validation_error"}),
        (_frame("resume", {"run_id": "r\x00", "after_seq": 1}), {"validation_error"}),
        (_frame("resume", {"run_id": "\ud800", "after_seq": 1}), {"validation_error"}),
        (_frame("cancel_run", {"run_id": run}), {"not_found"}),
        (_frame("cancel_run", {"run_id": 2**63}), {"validation_error"}),
        (b"\x00\x01binary\xff", {"invalid_frame"}),
    ]


async def _connect(srv: ServerProcess, token: str) -> websockets.ClientConnection:
    ws = await websockets.connect(
        srv.ws_url,
        additional_headers={"Authorization": f"Bearer {token}"},
        max_size=None,
        open_timeout=60,
    )
    first = json.loads(await asyncio.wait_for(ws.recv(), 30))
    assert first["type"] == "connection_established"
    return ws


async def _answer(ws: websockets.ClientConnection, wait_s: float = 30) -> dict[str, Any]:
    frame = json.loads(await asyncio.wait_for(ws.recv(), wait_s))
    return frame  # type: ignore[no-any-return]


def test_every_kind_of_garbage_gets_an_error_frame_and_the_socket_stays_open(
    serve: ServerProcess,
) -> None:
    token = signup_sync(serve.url)["access_token"]

    async def session() -> list[tuple[str, str]]:
        ws = await _connect(serve, token)
        answered: list[tuple[str, str]] = []
        try:
            for raw, codes in garbage():
                await ws.send(raw)
                frame = await _answer(ws)
                assert frame["type"] == "error", (raw[:80], frame)
                assert frame["payload"]["code"] in codes, (raw[:80], frame)
                assert frame["payload"]["message"]
                answered.append((str(raw)[:40], frame["payload"]["code"]))
            await ws.send(_frame("ping", {}, id="still-here"))
            pong = await _answer(ws)
            assert pong["type"] == "pong" and pong["id"] == "still-here"
        finally:
            await ws.close()
        assert ws.close_code == 1000, (ws.close_code, ws.close_reason)
        return answered

    answered = asyncio.run(session())
    assert len(answered) == len(garbage())

    # The id of a frame is echoed in its error, even when its payload is garbage.
    async def echo() -> dict[str, Any]:
        ws = await _connect(serve, token)
        try:
            await ws.send(_frame("resume", {"run_id": "r", "after_seq": 2**63}, id="m-1"))
            return await _answer(ws)
        finally:
            await ws.close()

    assert asyncio.run(echo())["id"] == "m-1"


def _server_rss(srv: ServerProcess) -> int:
    proc = psutil.Process(srv.proc.pid)
    return int(proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(True)))


def _open_sockets(srv: ServerProcess) -> float:
    text = httpx.get(f"{srv.url}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith("netra_ws_connections "):
            return float(line.split()[1])
    raise AssertionError("netra_ws_connections not in /metrics")


async def _storm(srv: ServerProcess, tokens: list[str], seconds: float) -> dict[str, int]:
    """CLIENTS clients send garbage for ``seconds``; each waits for the answer to a frame
    before sending the next, so every frame is accounted for."""
    totals = {"sent": 0, "answered": 0, "wrong": 0, "closed": 0}
    closes: dict[str, int] = {}
    kinds = garbage()
    stop = time.monotonic() + seconds

    async def one(i: int) -> None:
        rng = random.Random(i)
        ws = await _connect(srv, tokens[i % len(tokens)])
        try:
            while time.monotonic() < stop:
                raw, codes = rng.choice(kinds)
                await ws.send(raw)
                totals["sent"] += 1
                frame = await _answer(ws, wait_s=60)
                totals["answered"] += 1
                if frame["type"] != "error" or frame["payload"]["code"] not in codes:
                    totals["wrong"] += 1
                await asyncio.sleep(rng.uniform(0.0, 0.05))  # pacing between frames, no check
        except websockets.ConnectionClosed as exc:
            totals["closed"] += 1
            why = f"{exc.rcvd.code} {exc.rcvd.reason}" if exc.rcvd else "no close frame"
            closes[why] = closes.get(why, 0) + 1
        finally:
            await ws.close()

    await asyncio.gather(*(one(i) for i in range(CLIENTS)))
    assert not closes, (closes, totals)
    return totals


def test_two_hundred_clients_of_garbage_are_all_answered_and_memory_comes_back(
    serve: ServerProcess,
) -> None:
    tokens = [signup_sync(serve.url)["access_token"] for _ in range(10)]
    warm = asyncio.run(_storm(serve, tokens, 2.0))  # pools, caches, code paths: warmed up
    assert warm["closed"] == 0 and warm["wrong"] == 0, warm
    deadline = time.monotonic() + 60
    while _open_sockets(serve) > 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    baseline = _server_rss(serve)

    totals = asyncio.run(_storm(serve, tokens, STORM_S))
    assert totals["closed"] == 0, totals  # never 1011 or 1013: no socket was closed on them
    assert totals["wrong"] == 0, totals
    assert totals["answered"] == totals["sent"] and totals["sent"] > CLIENTS * 5, totals

    deadline = time.monotonic() + 60
    while _open_sockets(serve) > 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _open_sockets(serve) == 0
    bound = 64 * 2**20  # generous: allocator slack, not a leak of per-connection state
    after = _server_rss(serve)
    while after > baseline + bound and time.monotonic() < deadline:
        time.sleep(0.5)
        after = _server_rss(serve)
    print(f"ws storm: {totals}, rss baseline {baseline >> 20} MiB, after {after >> 20} MiB")
    assert after <= baseline + bound, (baseline >> 20, after >> 20)
