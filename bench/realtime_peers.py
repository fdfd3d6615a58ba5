"""The peers bench/realtime.py measures Netra against, as small servers it starts.

    python bench/realtime_peers.py socketio --port P --secret S --redis-url U --channel C
    python bench/realtime_peers.py websockets --port P --secret S

Both do what Netra's ``/ws`` does for the bench's pattern, and no more: verify an HS256 access
token on connect (PyJWT), put the socket in its user's group, and on a ``run`` request emit
``events`` run events (seq 1..n, an RFC 3339 ``ts`` taken at emission) to every socket of that
user, then the final one, pausing ``pause_s`` after each but the last (as Netra's placeholder
pipeline does with ``NETRA_PLACEHOLDER_STEP_DELAY_S``). What they do not do: store events
durably, resume, revocation.

- ``socketio``: python-socketio (ASGI, uvicorn) with ``AsyncRedisManager``: every emit goes
  through Redis pub/sub, as it would with several servers (what a Python team would pick).
  The client speaks Engine.IO 4 over a plain WebSocket; the ``run`` request is an event with an
  ack, answered before the events.
- ``websockets``: a raw ``websockets`` server; each event is serialised once and sent with
  ``websockets.broadcast`` to the user's sockets (the ceiling of a Python fan-out).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import jwt

AUDIENCE = "netra-api"


def rfc3339_now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def event_frame(run_id: str, seq: int, type_: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Shaped as a netra.v1 run event, so every peer carries the same bytes."""
    return {"type": type_, "ts": rfc3339_now(), "run_id": run_id, "thread_id": run_id,
            "seq": seq, "payload": payload}  # fmt: skip


def run_frames(run_id: str, events: int) -> list[tuple[str, dict[str, Any]]]:
    """The placeholder pipeline's events for ``events`` thinking steps (types and payloads)."""
    out: list[tuple[str, dict[str, Any]]] = [("agent_started", {"agent": "supervisor"})]
    for i in range(events):
        out.append(("agent_thinking", {"agent": "supervisor", "thought": "Reading the question",
                                       "progress": round(0.3 * (i + 1) / events, 4)}))  # fmt: skip
    call = {"agent": "supervisor", "tool": "echo", "tool_call_id": run_id}
    out.append(("tool_executing", {**call, "args": {"chars": 8}}))
    out.append(("tool_completed", {**call, "status": "ok", "duration_ms": 0,
                                   "result": {"words": 1}}))  # fmt: skip
    out.append(("agent_completed", {"agent": "supervisor", "status": "succeeded",
                                    "result": {"message_id": run_id, "text": "done"}}))  # fmt: skip
    return out


async def paced(
    frames: list[tuple[str, dict[str, Any]]], pause_s: float
) -> AsyncIterator[tuple[int, str, dict[str, Any]]]:
    """(seq, type, payload) of each frame, pausing ``pause_s`` after each but the last (no
    pause: a zero sleep, so the sockets write while the run goes on)."""
    for seq, (type_, payload) in enumerate(frames, start=1):
        yield seq, type_, payload
        if seq < len(frames):
            await asyncio.sleep(pause_s)


def verify(token: str, secret: str) -> str:
    claims = jwt.decode(token, secret, algorithms=["HS256"], audience=AUDIENCE)
    return str(claims["sub"])


async def serve_socketio(port: int, secret: str, redis_url: str, channel: str) -> None:
    import socketio
    import uvicorn

    manager = socketio.AsyncRedisManager(redis_url, channel=channel)
    sio = socketio.AsyncServer(async_mode="asgi", client_manager=manager, logger=False,
                               engineio_logger=False, cors_allowed_origins=[])  # fmt: skip

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: dict[str, Any] | None) -> None:
        try:
            user = verify(str((auth or {}).get("token", "")), secret)
        except jwt.PyJWTError as exc:
            raise socketio.exceptions.ConnectionRefusedError("invalid token") from exc
        await sio.enter_room(sid, user)
        await sio.save_session(sid, {"user": user})

    async def emit_run(user: str, run_id: str, events: int, pause_s: float) -> None:
        async for seq, type_, payload in paced(run_frames(run_id, events), pause_s):
            await sio.emit("event", event_frame(run_id, seq, type_, payload), room=user)

    @sio.event
    async def run(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        user = (await sio.get_session(sid))["user"]
        run_id = str(data["run_id"])
        pause_s = float(data.get("pause_s", 0))
        asyncio.get_running_loop().create_task(emit_run(user, run_id, int(data["events"]), pause_s))
        return {"run_id": run_id}

    app = socketio.ASGIApp(sio)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            ws_per_message_deflate=False, lifespan="off")  # fmt: skip
    await uvicorn.Server(config).serve()


async def serve_websockets(port: int, secret: str) -> None:
    import websockets
    from websockets.asyncio.server import ServerConnection, serve

    groups: dict[str, set[ServerConnection]] = defaultdict(set)

    async def emit_run(user: str, run_id: str, events: int, pause_s: float) -> None:
        async for seq, type_, payload in paced(run_frames(run_id, events), pause_s):
            text = json.dumps(event_frame(run_id, seq, type_, payload), separators=(",", ":"))
            websockets.broadcast(groups[user], text)

    async def handler(ws: ServerConnection) -> None:
        auth = ws.request.headers.get("Authorization", "") if ws.request else ""
        try:
            user = verify(auth.removeprefix("Bearer "), secret)
        except jwt.PyJWTError:
            await ws.close(4401, "invalid token")
            return
        groups[user].add(ws)
        try:
            await ws.send(json.dumps({"type": "connection_established", "ts": rfc3339_now(),
                                      "payload": {"user_id": user}}))  # fmt: skip
            async for message in ws:
                frame = json.loads(message)
                if frame.get("type") == "run":
                    run_id = str(frame["payload"]["run_id"])
                    await ws.send(json.dumps({"type": "ack", "id": frame.get("id"),
                                              "payload": {"run_id": run_id}}))  # fmt: skip
                    body = frame["payload"]
                    asyncio.get_running_loop().create_task(
                        emit_run(user, run_id, int(body["events"]), float(body.get("pause_s", 0)))
                    )
        finally:
            groups[user].discard(ws)

    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with serve(handler, "127.0.0.1", port, compression=None, max_queue=64):
        await stop


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("peer", choices=["socketio", "websockets"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--channel", default="bench-socketio")
    args = parser.parse_args()
    if args.peer == "socketio":
        asyncio.run(serve_socketio(args.port, args.secret, args.redis_url, args.channel))
    else:
        asyncio.run(serve_websockets(args.port, args.secret))


if __name__ == "__main__":
    main()
