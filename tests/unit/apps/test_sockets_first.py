"""The app's entry (apps/sockets_first.py): a WebSocket route taking only the socket is called
without the HTTP middlewares or the router; any other WebSocket route skips the middlewares but
goes through the router (path parameters, dependencies); HTTP requests go through both."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import Depends, WebSocket
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from netra.apps.sockets_first import SocketsFirstApp

pytestmark = pytest.mark.local


class Seen:
    """An outer ASGI middleware recording the scope types it was handed."""

    def __init__(self, app: ASGIApp, seen: list[str]) -> None:
        self.app, self.seen = app, seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            self.seen.append(f"{scope['type']} {scope['path']}")
        await self.app(scope, receive, send)


def _app(seen: list[str]) -> SocketsFirstApp:
    app = SocketsFirstApp()

    def greeting() -> str:
        return "hello from a dependency"

    @app.websocket("/direct")
    async def direct(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text(f"direct {ws.app is app}")
        await ws.close()

    @app.websocket("/rooms/{room}")
    async def room(ws: WebSocket, room: str, text: str = Depends(greeting)) -> None:
        await ws.accept()
        await ws.send_text(f"{room}: {text}")
        await ws.close()

    @app.get("/plain")
    async def plain() -> dict[str, str]:
        return {"ok": "yes"}

    async def stamp(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers["x-stamped"] = "1"
        return response

    app.add_middleware(BaseHTTPMiddleware, dispatch=stamp)
    app.add_middleware(Seen, seen=seen)
    return app


def test_a_socket_only_endpoint_is_called_directly_and_the_rest_as_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[str] = []
    app = _app(seen)
    routed: list[str] = []
    through = type(app.router).__call__

    async def recording(router: Any, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            routed.append(f"{scope['type']} {scope['path']}")
        await through(router, scope, receive, send)

    monkeypatch.setattr(type(app.router), "__call__", recording)
    with TestClient(app) as client:
        with client.websocket_connect("/direct") as ws:
            assert ws.receive_text() == "direct True"  # ``ws.app`` is the app, as via the router
        assert seen == [] and routed == []  # neither a middleware nor the router saw it
        with client.websocket_connect("/rooms/blue") as ws:  # a path parameter, a dependency
            assert ws.receive_text() == "blue: hello from a dependency"
        assert seen == [] and routed == ["websocket /rooms/blue"]
        response = client.get("/plain")
        assert response.json() == {"ok": "yes"} and response.headers["x-stamped"] == "1"
        assert seen == ["http /plain"] and routed[-1] == "http /plain"
