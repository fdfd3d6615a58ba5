"""Realtime test helpers: a uvicorn server in-process, tokens, a netra.v1 client.

``live_server(app)`` serves an app on a free port with the same WebSocket limits as
``netra serve`` (message size, no compression); ``Client`` wraps a real ``websockets``
connection with the protocol's frames.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
import websockets
from fastapi import FastAPI

from netra.auth.component import KEYS
from support.services import free_port


@dataclass
class LiveServer:
    app: FastAPI
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime


@asynccontextmanager
async def live_server(app: FastAPI, max_message_bytes: int = 65536) -> AsyncIterator[LiveServer]:
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="on",
        log_level="warning",
        ws_max_size=max_message_bytes,
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=5,  # as `netra serve` bounds it: never wait forever
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(600):
            if server.started or task.done():
                break
            await asyncio.sleep(0.02)
        if task.done():
            task.result()
            raise RuntimeError("server stopped during start-up")
        assert server.started, "server did not start"
        yield LiveServer(app, port)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)


def mint_token(
    server: LiveServer | Any,
    *,
    user_id: str | None = None,
    org_id: str | None = None,
    tier: str = "free",
    role: str = "member",
    ttl_s: int | None = None,
) -> str:
    """An access token signed with the app's own keys (``server``: a LiveServer or runtime)."""
    from netra.auth.tokens import issue_access_token

    runtime = server.runtime if isinstance(server, LiveServer) else server
    token, _ = issue_access_token(
        runtime.services[KEYS],
        runtime.settings,
        user_id=user_id or uuid.uuid4().hex,
        org_id=org_id or uuid.uuid4().hex,
        tier=tier,
        role=role,
        ttl_s=ttl_s,
    )
    return token


class Client:
    """A netra.v1 client over a real socket; keeps every frame it received, in order."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.established: dict[str, Any] = {}

    @classmethod
    async def connect(cls, ws_url: str, token: str, **kwargs: Any) -> Client:
        ws = await websockets.connect(
            ws_url, additional_headers={"Authorization": f"Bearer {token}"}, **kwargs
        )
        client = cls(ws)
        first = await client.recv()
        assert first["type"] == "connection_established", first
        client.established = first["payload"]
        return client

    async def send(self, type_: str, payload: dict[str, Any], id_: str | None = None) -> None:
        frame: dict[str, Any] = {"type": type_, "payload": payload}
        if id_ is not None:
            frame["id"] = id_
        await self.ws.send(json.dumps(frame))

    async def recv(self, wait_s: float = 10) -> dict[str, Any]:
        frame = json.loads(await asyncio.wait_for(self.ws.recv(), wait_s))
        self.frames.append(frame)
        return frame  # type: ignore[no-any-return]

    async def recv_type(self, type_: str, wait_s: float = 10) -> dict[str, Any]:
        while True:
            frame = await self.recv(wait_s)
            if frame["type"] == type_:
                return frame

    async def ask(self, text: str, id_: str | None = None, **payload: Any) -> dict[str, Any]:
        """Send a user_message; the ack's payload."""
        await self.send("user_message", {"text": text, **payload}, id_ or uuid.uuid4().hex)
        return (await self.recv_type("ack"))["payload"]

    async def events_until_final(self, run_id: str, wait_s: float = 20) -> list[dict[str, Any]]:
        """This run's events received from now until the supervisor's final agent_completed."""
        got: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            frame = await self.recv(max(0.1, deadline - loop.time()))
            if frame.get("run_id") != run_id:
                continue
            got.append(frame)
            if is_final(frame):
                return got

    async def close(self) -> None:
        await self.ws.close()


def is_final(frame: dict[str, Any]) -> bool:
    return (
        frame.get("type") == "agent_completed"
        and (frame.get("payload") or {}).get("agent") == "supervisor"
    )


def run_events(frames: list[dict[str, Any]], run_id: str) -> list[dict[str, Any]]:
    return [f for f in frames if f.get("run_id") == run_id and "seq" in f]
